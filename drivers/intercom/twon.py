"""2N IP intercoms over the 2N HTTP API: ``/api/log/subscribe`` + ``/api/log/pull`` (long
poll) for events, ``/api/switch/ctrl`` to open.

py2n (Home Assistant's 2N library) is used for what fits: its API error codes
(``py2n.exceptions.ApiError``) name the device's refusals. Its request helpers are not
used, for the reasons in docs/decisions.md ("2N: py2n for error codes only").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from py2n.exceptions import ApiError

from drivers.intercom.http import AuthFailed, Refused, StreamLost, check_auth, read_bounded
from drivers.intercom.observations import (
    Call,
    Card,
    Code,
    Door,
    Heartbeat,
    Input,
    Observation,
    Tamper,
    Unknown,
)
from drivers.intercom.settings import Intercom

CALL_STATES = {"ringing": "ringing", "connected": "answered", "terminated": "ended"}
DOOR_STATES = {"opened": True, "closed": False}  # DoorStateChanged.state
# 2N log events we know and do not use
IGNORED = frozenset(
    {
        "KeyPressed",
        "KeyReleased",
        "CallSessionStateChanged",
        "SwitchStateChanged",  # the lock relay, not the door (DoorStateChanged is)
        "DeviceState",
        "OutputChanged",
        "RegistrationStateChanged",
        "AudioLoopTest",
        "MotionDetected",
        "NoiseDetected",
        "UserAuthenticated",
    }
)


def error_text(doc: dict[str, Any]) -> str:
    error = doc.get("error") if isinstance(doc.get("error"), dict) else {}
    code = error.get("code") if isinstance(error, dict) else None
    try:
        name = ApiError(code).name.lower() if isinstance(code, int) else "unknown"
    except ValueError:
        name = "unknown"
    desc = error.get("description", "") if isinstance(error, dict) else ""
    return f"2N API error {code} ({name}){': ' + desc if desc else ''}"


def decode_event(item: Any) -> Observation | None:
    """One entry of ``result.events``; None for a known event we do not use."""
    if not isinstance(item, dict) or not isinstance(item.get("event"), str):
        return Unknown("malformed_event", malformed=True)
    name, params = item["event"], item.get("params")
    if not isinstance(params, dict):
        params = {}
    if name == "CallStateChanged":
        state = CALL_STATES.get(str(params.get("state")))
        return Call(state) if state else None
    if name == "CardEntered":
        try:
            return Card(int(str(params.get("uid")), 16))
        except ValueError:
            return Unknown("CardEntered", malformed=True)
    if name == "CodeEntered":
        code = params.get("code")
        if isinstance(code, str) and code.isdigit():
            return Code(code)
        return Unknown("CodeEntered", malformed=True)
    if name == "DoorStateChanged":
        door = DOOR_STATES.get(str(params.get("state")))
        return Door(door) if door is not None else Unknown(name, malformed=True)
    if name == "InputChanged":
        port, active = params.get("port"), params.get("state")
        if isinstance(port, str) and port and isinstance(active, bool):
            return Input(port[:32], active)
        return Unknown(name, malformed=True)
    if name == "TamperSwitchActivated":
        return Tamper() if params.get("state", True) else None
    if name in IGNORED:
        return None
    return Unknown(name[:64])


def decode_pull(body: bytes) -> list[Observation]:
    """A ``/api/log/pull`` reply; raises StreamLost if the channel is gone."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return [Unknown("pull_reply", malformed=True)]
    if not isinstance(doc, dict):
        return [Unknown("pull_reply", malformed=True)]
    if doc.get("success") is not True:
        raise StreamLost(error_text(doc))
    result = doc.get("result")
    events = result.get("events") if isinstance(result, dict) else None
    if not isinstance(events, list):
        return [Unknown("pull_reply", malformed=True)]
    return [o for o in map(decode_event, events) if o is not None]


class TwoN:
    """The 2N half of a driver: event stream and door relay."""

    def __init__(self, settings: Intercom) -> None:
        self.settings = settings
        self.pull_s = max(1, int(settings.stall_s / 2))

    async def _json(
        self,
        http: aiohttp.ClientSession,
        path: str,
        timeout: float,
        unauthorised: type[Exception] = AuthFailed,
    ) -> tuple[bytes | None, dict[str, Any]]:
        async with http.get(path, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            check_auth(response, unauthorised)
            body = await read_bounded(response, self.settings.max_part_bytes)
        if body is None:
            return None, {}
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return body, {}
        return body, doc if isinstance(doc, dict) else {}

    async def events(self, http: aiohttp.ClientSession) -> AsyncIterator[Observation]:
        _, doc = await self._json(http, "/api/log/subscribe?include=new&duration=90", 10)
        result = doc.get("result")
        if doc.get("success") is not True or not isinstance(result, dict):
            raise StreamLost(f"subscribe failed: {error_text(doc)}")
        channel = result.get("id")
        yield Heartbeat()  # subscribed: the device is online
        yield_timeout = self.pull_s + self.settings.timeout_s
        while True:
            path = f"/api/log/pull?id={channel}&timeout={self.pull_s}"
            try:
                body, _ = await self._json(http, path, yield_timeout)
            except TimeoutError:
                raise StreamLost(f"no pull reply in {yield_timeout:g}s") from None
            if body is None:
                yield Unknown("pull_reply_too_large", malformed=True)
                continue
            for observation in decode_pull(body):
                yield observation

    async def open(self, http: aiohttp.ClientSession, relay: int) -> None:
        path = f"/api/switch/ctrl?switch={relay}&action=trigger"
        _, doc = await self._json(http, path, self.settings.timeout_s, Refused)
        if doc.get("success") is not True:
            raise Refused(error_text(doc))
