"""The daily availability run: after each local midnight, every device's figure for the day.

Each day's figure is stored, journaled as ``facility_availability`` (and so synced to the
hub), and checked against ``facilities.target`` over the rolling window: below it, a work
order opens; back above, it closes. At start, days missed while the daemon was down are
computed from the journal, so the figures are the same as if it had run throughout. The
reading of the journal runs on the store writer's thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from edgectl.domain import FacilityAvailability
from edgectl.facilities import figures
from edgectl.facilities.settings import Facilities
from edgectl.sitectx import SiteContext
from edgectl.store import kv
from edgectl.workorders.engine import WorkOrderEngine
from rules.availability import Availability
from rules.schedule import day_bounds

log = structlog.get_logger(__name__)

KEY = ("facilities", "day")
SINCE = "facilities.since"  # kv: the first local day tracked
SETTLE_S = 5.0  # after midnight, so the day's last events have committed
CATCH_UP_DAYS = 31


@dataclass(frozen=True, slots=True)
class DeviceDay:
    device: str
    day: date
    availability: Availability
    week_share: float


def compute_days(
    conn: sqlite3.Connection,
    devices: tuple[str, ...],
    today: date,
    zone: ZoneInfo,
    window_days: int,
) -> list[DeviceDay]:
    """Compute and store every finished day not stored yet (on the writer's thread)."""
    since = kv.get(conn, SINCE)
    if not since:  # a fresh store: the first day tracked is today
        kv.put(conn, SINCE, today.isoformat())
        since = today.isoformat()
    row = conn.execute("SELECT MAX(day) FROM facility_days").fetchone()
    day = date.fromisoformat(since)
    if row and row[0]:
        day = max(day, date.fromisoformat(row[0]) + timedelta(days=1))
    day = max(day, today - timedelta(days=CATCH_UP_DAYS))
    out = []
    while day < today:
        _, end = day_bounds(day, zone)
        for device in sorted({*devices, *figures.devices_seen(conn, end)}):
            a = figures.device_day(conn, device, day, zone)
            figures.store_day(conn, device, day, a)
            week = figures.window_share(conn, device, day, window_days)
            out.append(DeviceDay(device, day, a, week))
        day += timedelta(days=1)
    return out


class FacilityTracker:
    def __init__(
        self,
        settings: Facilities,
        devices: tuple[str, ...],
        site: SiteContext,
        workorders: WorkOrderEngine,
    ) -> None:
        self.settings = settings
        self.devices = devices
        self.site = site
        self.workorders = workorders
        self._runs: set[asyncio.Task[None]] = set()

    def load(self) -> None:
        """Catch up on days not yet computed, then arm the next midnight."""
        self._due(self.site.clock())

    def _due(self, now: datetime) -> None:
        zone = self.site.calendar.zone
        today = now.astimezone(zone).date()
        task = asyncio.get_running_loop().create_task(self._run(today), name="facilities")
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        _, end = day_bounds(today, zone)
        self.site.timeline.set(KEY, end + timedelta(seconds=SETTLE_S), self._due)

    async def _run(self, today: date) -> None:
        s = self.settings
        try:
            days = await asyncio.wrap_future(
                self.site.write(
                    compute_days, self.devices, today, self.site.calendar.zone, s.window_days
                )
            )
        except Exception:
            log.exception("facilities_run_failed", today=today.isoformat())
            return
        for d in days:
            self._report(d)

    def _report(self, d: DeviceDay) -> None:
        _, end = day_bounds(d.day, self.site.calendar.zone)
        a = d.availability
        self.site.record(
            FacilityAvailability(
                source=d.device,
                at=end,
                day=d.day.isoformat(),
                share=round(a.share, 6),
                up_s=a.up_s,
                outages=len(a.outages),
                week_share=round(d.week_share, 6),
            )
        )
        key = f"availability:{d.device}"
        if d.week_share < self.settings.target:
            self.workorders.fault(
                key,
                d.device,
                f"{d.device} available {d.week_share:.1%} over {self.settings.window_days} days "
                f"(target {self.settings.target:.0%})",
                "availability",
            )
        else:
            self.workorders.recovered(key)

    async def stop(self) -> None:
        for task in self._runs:
            task.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
