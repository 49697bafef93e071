"""Who changes site state, and through which interface."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

INTERFACES = ("cli", "control", "mqtt", "hub", "system")


@dataclass(frozen=True, slots=True)
class Actor:
    who: str
    interface: str

    def __post_init__(self) -> None:
        if self.interface not in INTERFACES:
            raise ValueError(f"interface: expected one of {', '.join(INTERFACES)}")
        if not self.who:
            raise ValueError("who: expected a non-empty name")

    @classmethod
    def cli(cls) -> Actor:
        """The local user running the CLI."""
        try:
            return cls(getpass.getuser(), "cli")
        except (KeyError, OSError):
            return cls("unknown", "cli")


HUB = Actor("hub", "hub")
SYSTEM = Actor("system", "system")
