"""Facility availability: the share of a period a device was online and not in fault.

Pure: the caller passes the device's state at the period start and its changes inside the
period (from the journal's online/offline and fault events), so the figure is exact and
the same whenever it is computed, before or after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Status:
    online: bool = False
    fault: bool = False

    @property
    def up(self) -> bool:
        return self.online and not self.fault


@dataclass(frozen=True, slots=True)
class Change:
    at: datetime
    online: bool | None = None  # None: unchanged
    fault: bool | None = None


@dataclass(frozen=True, slots=True)
class Availability:
    start: datetime
    end: datetime
    up_s: float
    outages: tuple[tuple[datetime, datetime], ...]
    final: Status  # the state at the period end (the next period starts from it)

    @property
    def share(self) -> float:
        total = (self.end - self.start).total_seconds()
        return self.up_s / total if total > 0 else 1.0


def apply(status: Status, change: Change) -> Status:
    return Status(
        status.online if change.online is None else change.online,
        status.fault if change.fault is None else change.fault,
    )


def compute(
    initial: Status, changes: Iterable[Change], start: datetime, end: datetime
) -> Availability:
    """Availability over ``[start, end)``: changes before it set the state at its start,
    changes from ``end`` on are not counted."""
    status = initial
    outages: list[tuple[datetime, datetime]] = []
    down_since = None if status.up else start
    for change in sorted((c for c in changes if c.at < end), key=lambda c: c.at):
        at = max(change.at, start)
        status = apply(status, change)
        if status.up and down_since is not None:
            if at > down_since:
                outages.append((down_since, at))
            down_since = None
        elif not status.up and down_since is None:
            down_since = at
    if down_since is not None and end > down_since:
        outages.append((down_since, end))
    down = sum(((b - a) for a, b in outages), timedelta(0))
    up_s = max(0.0, ((end - start) - down).total_seconds())
    return Availability(start, end, up_s, tuple(outages), status)
