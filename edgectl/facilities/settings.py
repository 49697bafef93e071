"""Facility-availability settings (``[facilities]``)."""

from __future__ import annotations

from dataclasses import dataclass

from edgectl.confload import Invalid


@dataclass(frozen=True, slots=True)
class Facilities:
    target: float = 0.98  # below this over the rolling window, a work order opens
    window_days: int = 7

    def validate(self) -> None:
        if not 0 < self.target <= 1:
            raise Invalid("target", f"expected a share in (0, 1], got {self.target}")
        if not 1 <= self.window_days <= 31:
            raise Invalid("window_days", f"expected 1 to 31 days, got {self.window_days}")
