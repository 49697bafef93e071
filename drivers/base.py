"""The contract every driver keeps with the spine.

A driver owns one physical link (a serial bus, a reader port, an HTTP session) and the
devices on it. It turns wire traffic into domain events through ``emit`` and carries out
domain commands addressed to the devices it owns. It holds no policy.

``run`` returns only when cancelled; any exception it raises tells the supervisor that
the link failed, and the supervisor restarts the driver with backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edgectl.domain import Command, Event

Emit = Callable[[Event], None]


class DeviceError(Exception):
    """A device could not carry out a command (offline, timeout, exception reply)."""


@dataclass(frozen=True, slots=True)
class Health:
    online: bool
    detail: str = ""


class Driver(Protocol):
    """One link and the devices on it."""

    id: str

    @property
    def devices(self) -> frozenset[str]:
        """Ids of the devices whose commands this driver carries out."""
        ...

    async def run(self, emit: Emit) -> None:
        """Open the link and pump events until cancelled. Raise if the link fails."""
        ...

    async def execute(self, command: Command) -> None:
        """Carry out ``command`` on the wire. Raise DeviceError if it cannot."""
        ...

    def health(self) -> Health: ...


class SingleDevice:
    """For a driver whose one device is named by its own id: ``devices`` and ``health``,
    the health its link last set (``self._health``)."""

    id: str
    _health: Health = Health(False, "not started")

    @property
    def devices(self) -> frozenset[str]:
        return frozenset({self.id})

    def health(self) -> Health:
        return self._health
