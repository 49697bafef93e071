"""What an intercom's event stream can tell us, in vendor-neutral words.

The vendor modules decode their wire formats into these; the driver maps them to domain
events. Decoding is pure (bytes or JSON in, observations out) so it is property-tested.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Call:
    state: str  # ringing, answered, ended


@dataclass(frozen=True, slots=True)
class Card:
    number: int


@dataclass(frozen=True, slots=True)
class Code:
    code: str  # digits typed at the keypad; never logged


@dataclass(frozen=True, slots=True)
class Tamper:
    pass


@dataclass(frozen=True, slots=True)
class Door:
    """The door's own sensor (not the lock relay): open or closed."""

    open: bool


@dataclass(frozen=True, slots=True)
class Input:
    """A logic input of the device changed: ``input`` is ``input1``, ``input2``, ..."""

    input: str
    active: bool


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class Unknown:
    """An event type we do not use (counted and logged), or one we could not parse."""

    kind: str
    malformed: bool = False


Observation = Call | Card | Code | Tamper | Door | Input | Heartbeat | Unknown
