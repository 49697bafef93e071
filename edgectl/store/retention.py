"""Keep the store within its disk budget without losing anything that matters.

Usage is the bytes of live pages (``page_count - freelist_count``): deleted rows free pages
that SQLite reuses, so the file stops growing once retention runs. When usage passes
``EVICT_AT`` of the budget, retention deletes, oldest first and down to ``EVICT_TO``:

1. events the hub has acknowledged (``seq <= kv['sync.acked_seq']``), any class;
2. then unacknowledged telemetry (the outbox declares those seqs evicted to the hub).

Unacknowledged access, alarm, audit and device events are never evicted. If usage is still
at or above ``PRESSURE_AT`` (80%) a ``storage_pressure`` alarm is journaled, once, and a
second one with ``active = false`` when usage falls back. ``seq`` never restarts: the journal
uses AUTOINCREMENT, so evicting rows never reuses a seq.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from edgectl.domain import StoragePressure
from edgectl.store import kv
from edgectl.store.journal import Journal
from edgectl.store.worker import DbWorker

log = structlog.get_logger(__name__)

EVICT_AT = 0.75
EVICT_TO = 0.60
PRESSURE_AT = 0.80
CHUNK = 2000

USED_BYTES = Gauge("edgectl_store_used_bytes", "Live bytes in the store (retention's measure)")
BUDGET_BYTES = Gauge("edgectl_store_budget_bytes", "The store's disk budget")
STORAGE_FULL = Gauge("edgectl_journal_storage_full", "1 while journal commits fail for space")
EVICTED = Counter("edgectl_store_evicted_events_total", "Journal events evicted", ["reason"])


@dataclass(frozen=True, slots=True)
class Report:
    used_bytes: int
    budget_bytes: int
    evicted_acked: int
    evicted_telemetry: int
    unacked_events: int

    @property
    def pressure(self) -> bool:
        return self.used_bytes >= PRESSURE_AT * self.budget_bytes


def used_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _evict(conn: sqlite3.Connection, where: str, args: tuple[int, ...], target: int) -> int:
    evicted = 0
    while used_bytes(conn) > target:
        cur = conn.execute(
            f"DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE {where} "
            f"ORDER BY seq LIMIT {CHUNK})",
            args,
        )
        if cur.rowcount <= 0:
            break
        evicted += cur.rowcount
    return evicted


def enforce(conn: sqlite3.Connection, budget_bytes: int) -> Report:
    """Evict what may go until usage is under ``EVICT_TO`` of the budget (if it passed EVICT_AT)."""
    acked = kv.acked_seq(conn)
    by_acked = by_telemetry = 0
    if used_bytes(conn) > EVICT_AT * budget_bytes:
        target = int(EVICT_TO * budget_bytes)
        by_acked = _evict(conn, "seq <= ?", (acked,), target)
        by_telemetry = _evict(conn, "seq > ? AND cls = 'telemetry'", (acked,), target)
        if by_acked or by_telemetry:
            log.info("retention_evicted", acked=by_acked, telemetry=by_telemetry)
    unacked = conn.execute("SELECT count(*) FROM journal WHERE seq > ?", (acked,)).fetchone()[0]
    return Report(used_bytes(conn), budget_bytes, by_acked, by_telemetry, int(unacked))


class Retention:
    """Runs ``enforce`` every ``interval_s`` and at once when the journal reports a full disk."""

    def __init__(self, journal: Journal, budget_mb: float, *, interval_s: float = 30.0) -> None:
        self.journal = journal
        self.budget_bytes = int(budget_mb * 1024 * 1024)
        self.interval_s = interval_s
        self.pressure = False
        self.last: Report | None = None
        self._wake = asyncio.Event()
        self._db: DbWorker | None = None  # opened by the first check, closed when run ends
        if journal.on_storage_full is None:
            journal.on_storage_full = self.storage_full

    def storage_full(self, full: bool, error: str) -> None:
        """The journal's ``on_storage_full`` hook: evict now."""
        STORAGE_FULL.set(int(full))
        if full:
            self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                await self.check()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.interval_s)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            if self._db is not None:
                self._db.close()
                self._db = None  # a restart under the supervisor opens a fresh connection

    async def check(self) -> Report:
        if self._db is None:
            self._db = DbWorker(self.journal.path, "retention-db")
        report = await self._db.call(enforce, self.budget_bytes)
        self.last = report
        USED_BYTES.set(report.used_bytes)
        BUDGET_BYTES.set(report.budget_bytes)
        EVICTED.labels("acked").inc(report.evicted_acked)
        EVICTED.labels("telemetry").inc(report.evicted_telemetry)
        if report.pressure != self.pressure:
            self.pressure = report.pressure
            log.warning("storage_pressure", active=report.pressure, used=report.used_bytes)
            alarm = self.journal.append(
                StoragePressure(
                    source="store",
                    at=datetime.now(UTC),
                    active=report.pressure,
                    used_bytes=report.used_bytes,
                    budget_bytes=report.budget_bytes,
                    unacked_events=report.unacked_events,
                )
            )
            alarm.add_done_callback(_log_failed_alarm)
        return report


def _log_failed_alarm(fut: asyncio.Future[Any]) -> None:
    """Retention never waits on its alarm (the disk may be full); it logs a failed one."""
    if not fut.cancelled() and fut.exception() is not None:
        log.error("storage_pressure_alarm_not_journaled", error=str(fut.exception()))
