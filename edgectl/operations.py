"""Site operations: work orders, patrols and facility availability on one timeline.

Built by the daemon (and by the CLI when no daemon runs); ``load`` rebuilds every
deadline from the store, ``run`` is the long-running part: the timeline and the feed of
committed journal entries (device faults, badge-ins) into the engines. Nothing here waits
on the hub or the broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog

from edgectl.config import Config
from edgectl.domain import Event
from edgectl.facilities.tracker import FacilityTracker
from edgectl.patrol.engine import PatrolEngine
from edgectl.sitectx import SiteContext
from edgectl.store.db import open_store
from edgectl.store.journal import Entry, Journal
from edgectl.store.writer import Writer
from edgectl.timeline import Clock, Timeline
from edgectl.workorders.engine import WorkOrderEngine
from edgectl.workorders.faults import FaultWatcher
from rules.policy import SitePolicy

log = structlog.get_logger(__name__)


def _log_failure(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("journal_append_failed", error=str(fut.exception()))


def journal_record(journal: Journal) -> Callable[[Event], Any]:
    def record(event: Event) -> asyncio.Future[Any]:
        fut = journal.append(event)
        fut.add_done_callback(_log_failure)
        return fut

    return record


class Operations:
    def __init__(self, config: Config, record: Callable[[Event], Any], clock: Clock) -> None:
        self.config = config
        self.conn = open_store(config.store.path)  # reads on the loop: the rebuild, reports
        self.writer = Writer(config.store.path, "operations-writer")
        self.timeline = Timeline(clock)
        policy = SitePolicy.from_config(config)
        self.site = SiteContext(
            config.site.id,
            policy.calendar,
            config.roster,
            self.conn,
            self.writer.submit,
            self.timeline,
            record,
            clock,
        )
        self.workorders = WorkOrderEngine(config.workorders, self.site)
        self.faults = FaultWatcher(self.workorders, self.timeline, config.workorders.fault_after_s)
        self.patrol = PatrolEngine(config.patrol, policy.plans, self.site, self.workorders)
        ids = [g.id for g in config.gates] + [d.id for d in config.doors]
        devices = tuple(ids + [r.id for r in config.readers])
        self.facilities = FacilityTracker(config.facilities, devices, self.site, self.workorders)
        self.rebuild_s = 0.0

    def load(self) -> None:
        """Rebuild every open order, active tour and scheduled start from the store."""
        started = time.perf_counter()
        orders = self.workorders.load()
        tours = self.patrol.load()
        self.facilities.load()
        self.rebuild_s = time.perf_counter() - started
        log.info("operations_loaded", orders=orders, tours=tours, s=round(self.rebuild_s, 3))

    def observe(self, entry: Entry) -> None:
        for observer in (self.faults.observe, self.patrol.observe):
            try:
                observer(entry)
            except Exception:  # one bad entry must not stop the feed
                log.exception("operations_observe_failed", kind=entry.kind, seq=entry.seq)

    async def run(self, entries: asyncio.Queue[Entry]) -> None:
        """The timeline and the journal feed, until cancelled."""

        async def feed() -> None:
            while True:
                self.observe(await entries.get())

        await asyncio.gather(self.timeline.run(), feed())

    async def close(self) -> None:
        """Stop the daily runs, commit every queued change, close the store."""
        await self.facilities.stop()
        await asyncio.to_thread(self.writer.close)
        self.conn.close()
