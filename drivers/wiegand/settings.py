"""Settings of the Wiegand reader driver (``[[readers]]`` in the site config).

Imports no driver library (pyserial is imported only by ``drivers/wiegand/reader.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edgectl.confload import Invalid

__all__ = ["Reader", "check_card_format"]


def check_card_format(key: str, name: str) -> None:
    """A format a card can be enrolled in: a named format or ``raw<bits>``."""
    from drivers.wiegand.codec import field_widths

    try:
        field_widths(name)
    except KeyError as exc:
        raise Invalid(key, str(exc.args[0])) from None


@dataclass(frozen=True, slots=True)
class Reader:
    """A Wiegand reader behind a serial Wiegand converter (see docs/wiegand-converter.md)."""

    id: str
    port: str
    baud: int = 9600
    door: str = ""
    gate: str = ""
    direction: Literal["in", "out", "none"] = "in"
    formats: tuple[str, ...] = ("h10301", "wiegand34", "c1000", "h10304")

    def validate(self) -> None:
        if bool(self.door) == bool(self.gate):
            raise Invalid("door", "expected exactly one of 'door' or 'gate' for a reader")
        from drivers.wiegand.codec import builtin_formats

        known = builtin_formats()
        for i, name in enumerate(self.formats):
            if name not in known:
                raise Invalid(f"formats[{i}]", f"expected one of {sorted(known)}, got {name!r}")

    @property
    def target(self) -> str:
        return self.door or self.gate
