"""What the site's operations engines (work orders, patrols, availability) share."""

from __future__ import annotations

import concurrent.futures
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from edgectl.domain import Event
from edgectl.roster import Duty
from edgectl.site.actor import Actor
from edgectl.timeline import Clock, Timeline
from rules.schedule import Calendar

Record = Callable[[Event], Any]
Write = Callable[..., "concurrent.futures.Future[Any]"]  # Writer.submit(fn, *args)
# change(actor, action, subject, details, fn, *args): ``fn(conn, *args)`` through the site
# service, committed with its ``site_changed`` audit event
Change = Callable[..., "concurrent.futures.Future[Any]"]
INTERFACES = {"control": "control", "cli": "control", "mqtt": "mqtt", "hub": "hub"}  # -> audit


def actor_for(who: str, channel: str) -> Actor:
    """Who made a change through which channel, as the site service's audit names it
    (changes by devices, schedules and the deadline engine are the ``system``'s)."""
    return Actor(who or "system", INTERFACES.get(channel, "system"))


@dataclass(frozen=True, slots=True)
class SiteContext:
    site_id: str
    calendar: Calendar
    roster: tuple[Duty, ...]
    conn: sqlite3.Connection  # reads: the rebuild at start, reports
    write: Write  # the engines' own bookkeeping, in order, off the event loop
    change: Change  # a change to site state by someone: audited through the site service
    timeline: Timeline
    record: Record  # journal an event
    clock: Clock

    def changed(
        self,
        by: str,
        channel: str,
        action: str,
        subject: str,
        details: dict[str, Any],
        event: Event,
        fn: Callable[..., Any],
        *args: Any,
    ) -> None:
        """A change by ``by`` through ``channel``: ``fn(conn, *args)`` stored with its audit
        event through the site service (in order, off the event loop), then ``event``
        journaled."""
        self.change(actor_for(by, channel), action, subject, details, fn, *args)
        self.record(event)

    def saved(self, events: Iterable[Event], fn: Callable[..., Any], *args: Any) -> None:
        """The engines' own bookkeeping: ``fn(conn, *args)`` stored (in order, off the event
        loop), then each of ``events`` journaled."""
        self.write(fn, *args)
        for event in events:
            self.record(event)
