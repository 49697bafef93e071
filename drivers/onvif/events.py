"""Camera events over a PullPoint subscription, parsed with onvif-parsers.

The subscription is renewed at 80% of its life, measured on the camera's own clock (the
reply's CurrentTime and TerminationTime), and made again from scratch when a pull or a
renewal fails: that is what a camera reboot looks like from here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import onvif_parsers
import structlog
from onvif_parsers.errors import UnknownTopicError

from drivers.onvif.session import PULLPOINT_NS, SETUP_S, CameraError, OnvifSession

log = structlog.get_logger(__name__)
LIFETIME_S = 60
PULL_WAIT_S = 5
RENEW_AT = 0.8


@dataclass(frozen=True, slots=True)
class Parsed:
    kind: str  # motion, tamper, input, line, other
    name: str
    topic: str
    active: bool


def classify(topic: str, device_class: str | None, value: Any) -> tuple[str, bool]:
    """The event's kind from its topic (and the parser's device class), and whether it is on."""
    if "Tamper" in topic:
        kind = "tamper"
    elif "DigitalInput" in topic or "AlarmIn" in topic:
        kind = "input"
    elif "LineDetector" in topic or "LineCross" in topic:
        kind = "line"
    elif device_class == "motion" or "Motion" in topic:
        kind = "motion"
    else:
        kind = "other"
    if isinstance(value, bool):
        return kind, value
    return kind, str(value).lower() not in ("", "none", "false", "0", "inactive")


async def parse(camera_id: str, message: Any) -> list[Parsed]:
    """One NotificationMessage (zeep object) to zero or more parsed events."""
    topic = str(getattr(getattr(message, "Topic", None), "_value_1", "") or "")
    if not topic:
        return []
    try:
        entities = await onvif_parsers.parse(topic, camera_id, message)
    except UnknownTopicError:
        return [Parsed("other", topic.rsplit("/", 1)[-1], topic, True)]
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("camera_event_unparsed", camera=camera_id, topic=topic, error=str(exc))
        return []
    out = []
    for entity in entities:
        kind, active = classify(topic, entity.device_class, entity.value)
        out.append(Parsed(kind, entity.name, topic, active))
    return out


def renew_in(reply: Any) -> float:
    """Seconds until renewal: 80% of the life the camera granted (by its own clock)."""
    current, until = getattr(reply, "CurrentTime", None), getattr(reply, "TerminationTime", None)
    life = float(LIFETIME_S)
    if isinstance(current, datetime) and isinstance(until, datetime):
        try:
            life = (until - current).total_seconds()
        except TypeError:  # one naive, one aware
            pass
    return max(5.0, min(life, 3600.0) * RENEW_AT)


class PullPoint:
    """One subscription; ``messages()`` yields notification batches until it fails."""

    def __init__(self, session: OnvifSession) -> None:
        self.session = session
        self._sub: Any = None
        self._pull: Any = None
        self._renew_at = 0.0

    async def subscribe(self) -> None:
        cam = self.session.camera
        events = await self.session.call("events service", cam.create_events_service(), SETUP_S)
        made = await self.session.call(
            "CreatePullPointSubscription",
            events.CreatePullPointSubscription({"InitialTerminationTime": f"PT{LIFETIME_S}S"}),
        )
        address = made.SubscriptionReference.Address._value_1
        if not address:
            raise CameraError("CreatePullPointSubscription: no subscription address")
        cam.xaddrs[PULLPOINT_NS] = cam.rewrite_url(address)
        self._pull = await self.session.call("pullpoint", cam.create_pullpoint_service(), SETUP_S)
        self._sub = await self.session.call(
            "subscription", cam.create_subscription_service("PullPointSubscription"), SETUP_S
        )
        self._renew_at = time.monotonic() + renew_in(made)

    async def messages(self) -> AsyncIterator[list[Any]]:
        while True:
            if time.monotonic() >= self._renew_at:
                reply = await self.session.call(
                    "Renew", self._sub.Renew({"TerminationTime": f"PT{LIFETIME_S}S"})
                )
                self._renew_at = time.monotonic() + renew_in(reply)
            reply = await self.session.call(
                "PullMessages",
                self._pull.PullMessages({"Timeout": f"PT{PULL_WAIT_S}S", "MessageLimit": 20}),
                timeout_s=self.session.settings.timeout_s + PULL_WAIT_S,
            )
            yield list(getattr(reply, "NotificationMessage", None) or [])

    async def unsubscribe(self) -> None:
        if self._sub is not None:
            try:
                await self.session.call("Unsubscribe", self._sub.Unsubscribe())
            except CameraError:
                pass
