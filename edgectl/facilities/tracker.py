"""The daily availability run: after each local midnight, every device's figure for the day.

Each day's figure is stored, journaled as ``facility_availability`` (and so synced to the
hub), and checked against ``facilities.target`` over the rolling window: below it, a work
order opens; back above, it closes. At start, days missed while the daemon was down are
computed from the journal, so the figures are the same as if it had run throughout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from edgectl.domain import Event, FacilityAvailability
from edgectl.facilities import figures
from edgectl.facilities.settings import Facilities
from edgectl.store import kv
from edgectl.timeline import Clock, Timeline
from edgectl.workorders.engine import WorkOrderEngine
from edgectl.workorders.store import transaction
from rules.schedule import Calendar, day_bounds

Record = Callable[[Event], Any]
KEY = ("facilities", "day")
SINCE = "facilities.since"  # kv: the first local day tracked
SETTLE_S = 5.0  # after midnight, so the day's last events have committed
CATCH_UP_DAYS = 31


class FacilityTracker:
    def __init__(
        self,
        settings: Facilities,
        devices: tuple[str, ...],
        calendar: Calendar,
        conn: sqlite3.Connection,
        timeline: Timeline,
        record: Record,
        clock: Clock,
        workorders: WorkOrderEngine,
    ) -> None:
        self.settings = settings
        self.devices = devices
        self.calendar = calendar
        self.conn = conn
        self.timeline = timeline
        self.record = record
        self.clock = clock
        self.workorders = workorders

    def _today(self) -> date:
        return self.clock().astimezone(self.calendar.zone).date()

    def load(self) -> None:
        """Catch up on days not yet computed, then arm the next midnight."""
        self._catch_up()

    def _catch_up(self) -> None:
        """Compute every finished day not yet stored, from the day tracking began."""
        today = self._today()
        since = kv.get(self.conn, SINCE)
        if not since:  # a fresh store: the first full day is today
            kv.put(self.conn, SINCE, today.isoformat())
            since = today.isoformat()
        row = self.conn.execute("SELECT MAX(day) FROM facility_days").fetchone()
        day = date.fromisoformat(since)
        if row and row[0]:
            day = max(day, date.fromisoformat(row[0]) + timedelta(days=1))
        day = max(day, today - timedelta(days=CATCH_UP_DAYS))
        while day < today:
            self.run_day(day)
            day += timedelta(days=1)
        _, end = day_bounds(today, self.calendar.zone)
        self.timeline.set(KEY, end + timedelta(seconds=SETTLE_S), lambda now: self._catch_up())

    def run_day(self, day: date) -> list[FacilityAvailability]:
        _, end = day_bounds(day, self.calendar.zone)
        devices = sorted({*self.devices, *figures.devices_seen(self.conn, end)})
        out = []
        with transaction(self.conn):
            days = [(d, figures.device_day(self.conn, d, day, self.calendar.zone)) for d in devices]
            for device, a in days:
                figures.store_day(self.conn, device, day, a)
        for device, a in days:
            week = figures.window_share(self.conn, device, day, self.settings.window_days)
            event = FacilityAvailability(
                source=device,
                at=end,
                day=day.isoformat(),
                share=round(a.share, 6),
                up_s=a.up_s,
                outages=len(a.outages),
                week_share=round(week, 6),
            )
            self.record(event)
            out.append(event)
            key = f"availability:{device}"
            if week < self.settings.target:
                self.workorders.fault(
                    key,
                    device,
                    f"{device} available {week:.1%} over {self.settings.window_days} days "
                    f"(target {self.settings.target:.0%})",
                    "availability",
                )
            else:
                self.workorders.recovered(key)
        return out
