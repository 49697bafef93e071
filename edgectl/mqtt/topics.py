"""The topic tree under the site's base topic (see docs/mqtt.md).

``{base}/availability``                 retained ``online``/``offline`` (last will)
``{base}/device/{id}/state``            retained JSON, one per device
``{base}/event/{kind}``                 committed journal entries, one level per kind
``{base}/cmd/{operator}/{noun}/{verb}`` requests; the broker pins ``{operator}`` to the user
``{base}/reply/{operator}``             responses for 3.1.1 clients (and MQTT 5 without one)
``{base}/butler/{staff}/arrival``       arrivals for one butler
``{base}/butler/{staff}/workorder_*``   work orders assigned to one staff member, and their
                                        ``workorder_overdue`` escalations
``{base}/butler/{staff}/missed_call``   intercom calls nobody answered, for the butler on duty
"""

from __future__ import annotations

from dataclasses import dataclass

_MAX_LEVEL = 64


def routable(text: str) -> bool:
    """Text a broker accepts in a topic it routes (MQTT 5 section 1.5.4, as mosquitto checks
    it): no wildcard, no NUL or other control character (C0, DEL, C1), no surrogate and no
    non-character. Publishing to any other topic makes mosquitto drop the connection."""
    for c in text:
        n = ord(c)
        if c in "+#" or n < 0x20 or 0x7F <= n <= 0x9F or 0xD800 <= n <= 0xDFFF:
            return False
        if 0xFDD0 <= n <= 0xFDEF or (n & 0xFFFE) == 0xFFFE:
            return False
    return True


def valid_level(level: str) -> bool:
    """A single, non-empty topic level with no wildcards or separators."""
    return 0 < len(level) <= _MAX_LEVEL and not any(c in level for c in "/+#\0")


@dataclass(frozen=True, slots=True)
class Topics:
    base: str

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    def state(self, device: str) -> str:
        return f"{self.base}/device/{device}/state"

    def event(self, kind: str) -> str:
        return f"{self.base}/event/{kind}"

    @property
    def commands(self) -> str:
        """The daemon's bulk subscription: every operator's commands."""
        return f"{self.base}/cmd/#"

    def staff_commands(self, operator: str) -> str:
        """The main connection's subscription for one staff operator (guard and above)."""
        return f"{self.base}/cmd/{operator}/+/+"

    def reply(self, operator: str) -> str:
        return f"{self.base}/reply/{operator}"

    def butler(self, staff: str, notice: str = "arrival") -> str:
        return f"{self.base}/butler/{staff}/{notice}"

    def allowed_response_topic(self, operator: str, topic: str) -> bool:
        """An MQTT 5 response topic must lie under the operator's own reply topic."""
        own = self.reply(operator)
        return (topic == own or topic.startswith(own + "/")) and routable(topic)

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """``{base}/cmd/{operator}/{noun}/{verb}`` -> (operator, "noun/verb"), else None."""
        prefix = f"{self.base}/cmd/"
        if not topic.startswith(prefix):
            return None
        levels = topic[len(prefix) :].split("/")
        if len(levels) != 3 or not all(valid_level(x) for x in levels):
            return None
        operator, noun, verb = levels
        return operator, f"{noun}/{verb}"
