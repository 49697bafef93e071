"""What the site's operations engines (work orders, patrols, availability) share."""

from __future__ import annotations

import concurrent.futures
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgectl.domain import Event
from edgectl.roster import Duty
from edgectl.timeline import Clock, Timeline
from rules.schedule import Calendar

Record = Callable[[Event], Any]
Write = Callable[..., "concurrent.futures.Future[Any]"]  # Writer.submit(fn, *args)


@dataclass(frozen=True, slots=True)
class SiteContext:
    site_id: str
    calendar: Calendar
    roster: tuple[Duty, ...]
    conn: sqlite3.Connection  # reads: the rebuild at start, reports
    write: Write  # every change, in order, off the event loop
    timeline: Timeline
    record: Record  # journal an event
    clock: Clock
