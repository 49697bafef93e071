"""Site operations: work orders, patrols and facility availability on one timeline.

Built by the daemon (and by the CLI when no daemon runs); ``load`` rebuilds every
deadline from the store, ``run`` is the long-running part: the timeline and the feed of
committed journal entries (device faults, badge-ins) into the engines. Nothing here waits
on the hub or the broker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from edgectl.config import Config
from edgectl.domain import Event
from edgectl.facilities.tracker import FacilityTracker
from edgectl.patrol.engine import PatrolEngine
from edgectl.site.actor import Actor
from edgectl.site.audit import OnCommit
from edgectl.site.service import SiteService
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


def _audited(
    conn: sqlite3.Connection,
    service: SiteService,
    actor: Actor,
    action: str,
    subject: str,
    details: dict[str, Any],
    now: datetime,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
) -> Any:
    """On the writer's thread: the change and its audit event in one transaction."""
    with service.change(actor, action, subject, details, now=now) as c:
        return fn(c, *args)


class Operations:
    """``on_commit`` hands each committed audit event to the journal's subscribers."""

    def __init__(
        self,
        config: Config,
        record: Callable[[Event], Any],
        clock: Clock,
        *,
        on_commit: OnCommit | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.conn = open_store(config.store.path)  # reads on the loop: the rebuild, reports
        self.writer = Writer(config.store.path, "operations-writer")
        # the site service on the writer's own connection and thread: work orders and tours
        # change through it, in order with the engines' bookkeeping, never on the loop
        self.service = self.writer.submit_alone(
            lambda conn: SiteService(conn, config, on_commit)
        ).result()
        self.timeline = Timeline(clock)
        policy = SitePolicy.from_config(config)
        self.site = SiteContext(
            config.site.id,
            policy.calendar,
            config.roster,
            self.conn,
            self.writer.submit,
            self._change,
            self.timeline,
            record,
            clock,
        )
        self.workorders = WorkOrderEngine(config.workorders, self.site)
        self.faults = FaultWatcher(self.workorders, self.timeline, config.workorders.fault_after_s)
        self.patrol = PatrolEngine(config.patrol, policy.plans, self.site, self.workorders)
        ids = [g.id for g in config.gates] + [d.id for d in config.doors]
        ids += [c.id for c in config.cameras.devices]
        devices = tuple(ids + [r.id for r in config.readers])
        self.facilities = FacilityTracker(config.facilities, devices, self.site, self.workorders)
        self.rebuild_s = 0.0

    def _change(
        self,
        actor: Actor,
        action: str,
        subject: str,
        details: dict[str, Any],
        fn: Callable[..., Any],
        *args: Any,
    ) -> concurrent.futures.Future[Any]:
        return self.writer.submit_alone(
            _audited, self.service, actor, action, subject, details, self.clock(), fn, args
        )

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
