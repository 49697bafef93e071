"""The append-only journal, with group commit on a writer thread.

``append`` hands an event to the writer thread and returns a future that resolves to the
committed entry, with its ``seq``, only once the transaction holding it has committed. The
writer takes everything queued at that moment into one transaction, so many events share
one fsync. A batch that holds an access or alarm event commits with ``synchronous=FULL``.

A commit that fails for a transient reason (disk or database full, I/O error, lock timeout)
is never dropped: the writer keeps the batch, reports ``storage_full`` (log, callback,
property), and retries with backoff until it commits. The futures stay pending meanwhile,
so nothing is acknowledged that is not on disk. Once it recovers, a ``storage_full`` alarm
event records the outage in the journal itself. Only ``close()`` during an outage gives up,
failing the still-pending futures with ``StoreError`` (those events were never acknowledged).

Committed entries then fan out to subscribers (MQTT, the outbox wake-up) in ``seq`` order.
The event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import Counter

from edgectl.backoff import Backoff
from edgectl.domain import (
    DURABLE_CLASSES,
    SCHEMA_VERSION,
    Event,
    EventClass,
    StorageFull,
    StoreFailed,
)
from edgectl.store.batching import take_batch
from edgectl.store.db import StoreError, open_store
from edgectl.store.tx import transaction

log = structlog.get_logger(__name__)

COMMIT_FAILURES = Counter(
    "edgectl_journal_commit_failures_total",
    "Journal commits that failed for good (not a full disk or a lock), by SQLite error",
    ["error"],
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A committed journal row."""

    seq: int
    at: datetime
    kind: str
    cls: EventClass
    source: str
    body: dict[str, Any]
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "class": str(self.cls),
            "source": self.source,
            "body": self.body,
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> Entry:
        seq, at, kind, klass, source, body, version = tuple(row)
        return cls(
            seq=seq,
            at=datetime.fromisoformat(at),
            kind=kind,
            cls=EventClass(klass),
            source=source,
            body=json.loads(body),
            schema_version=version,
        )


_COLUMNS = "seq, at, kind, cls, source, body, schema_version"


def read_entries(
    conn: sqlite3.Connection, after: int = 0, limit: int = 1000, kinds: tuple[str, ...] = ()
) -> list[Entry]:
    """Committed entries with ``seq > after``, oldest first."""
    if kinds:
        marks = ",".join("?" * len(kinds))
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE seq > ? AND kind IN ({marks}) "
            "ORDER BY seq LIMIT ?",
            (after, *kinds, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
    return [Entry.from_row(r) for r in rows]


def last_entries(
    conn: sqlite3.Connection, n: int, kinds: tuple[str, ...] = (), before: int | None = None
) -> list[Entry]:
    """The newest ``n`` entries (optionally of some kinds, with ``seq < before``), oldest first."""
    where = [f"kind IN ({','.join('?' * len(kinds))})"] if kinds else []
    args: list[object] = list(kinds)
    if before is not None:
        where.append("seq < ?")
        args.append(before)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM journal {clause} ORDER BY seq DESC LIMIT ?", (*args, n)
    ).fetchall()
    return [Entry.from_row(r) for r in reversed(rows)]


def newest_first(conn: sqlite3.Connection, kind: str, since: datetime) -> Iterator[Entry]:
    """Entries of ``kind`` from the newest back to the first one older than ``since``."""
    cursor = conn.execute(
        f"SELECT {_COLUMNS} FROM journal WHERE kind = ? ORDER BY seq DESC", (kind,)
    )
    for row in cursor:
        entry = Entry.from_row(row)
        if entry.at < since:
            return
        yield entry


_INSERT = (
    "INSERT INTO journal (at, kind, cls, source, body, schema_version) "
    f"VALUES (?, ?, ?, ?, ?, {SCHEMA_VERSION})"
)


def insert_event(conn: sqlite3.Connection, event: Event) -> Entry:
    """Insert ``event`` inside the caller's open transaction; its entry once that commits.

    Any connection may do this: ``seq`` is AUTOINCREMENT and the journal writer reads the
    head inside its own write transaction, so the sequence stays monotonic and gap-free.
    """
    body = event.body()
    row = (event.at.isoformat(), event.KIND, str(event.CLASS), event.source, json.dumps(body))
    cur = conn.execute(_INSERT, row)
    return Entry(int(cur.lastrowid or 0), event.at, event.KIND, event.CLASS, event.source, body)


EPOCH_KEY = "journal.epoch"


def epoch(conn: sqlite3.Connection) -> str:
    """This journal's epoch: 16 hex digits chosen when the database was created. The hub keys
    events by (site, epoch, seq), so a wiped database never reuses a seq the hub holds."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (EPOCH_KEY,)).fetchone()
    return str(row[0])


def new_epoch(conn: sqlite3.Connection) -> str:
    """Start a new epoch (re-provisioning, in the caller's transaction); return it."""
    value = secrets.token_hex(8)
    conn.execute("UPDATE kv SET value = ? WHERE key = ?", (value, EPOCH_KEY))
    return value


def head_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
    return int(row[0]) if row else 0


_STOP = object()
_RETRYABLE = ("SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_PROTOCOL")
_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 2.0


def retryable(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_RETRYABLE) or "disk is full" in str(exc)


def _lock_contention(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


class Journal:
    """The site's journal. Create it inside a running loop; ``close()`` flushes and stops."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_batch: int = 4096,
        on_storage_full: Callable[[bool, str], None] | None = None,
    ) -> None:
        """``on_storage_full(full, error)`` runs on the loop when commits start or stop failing."""
        self.path = Path(path)
        self._loop = asyncio.get_running_loop()
        self._conn = open_store(self.path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._subscribers: list[asyncio.Queue[Entry]] = []
        self._sync_mode = ""
        self.on_storage_full = on_storage_full
        self._closing = threading.Event()
        self.storage_full = False
        self.storage_error = ""
        self.store_error = ""  # set while commits fail for good: the site's health is red
        self._lost = 0
        self._thread = threading.Thread(target=self._writer, name="journal-writer", daemon=True)
        self._thread.start()

    @property
    def conn(self) -> sqlite3.Connection:
        """The writer's connection. Use it only from code that owns no other transaction."""
        return self._conn

    def append(self, event: Event) -> asyncio.Future[Entry]:
        """Queue ``event``; the future resolves to its entry once committed."""
        fut: asyncio.Future[Entry] = self._loop.create_future()
        self._queue.put((event, fut))
        return fut

    def subscribe(self, maxsize: int = 10000) -> asyncio.Queue[Entry]:
        """A queue of entries as they commit. A full queue drops (the journal still has them)."""
        q: asyncio.Queue[Entry] = asyncio.Queue(maxsize)
        self._subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Entry]) -> None:
        if q in self._subscribers:
            self._subscribers.remove(q)

    def publish(self, entries: list[Entry]) -> None:
        """Fan out entries another connection committed (the site service's audit events)
        to subscribers, as if this writer had committed them. Call on the loop."""
        self._deliver([None] * len(entries), entries)

    @property
    def writer_alive(self) -> bool:
        """Whether the writer thread runs (it ends only on close)."""
        return self._thread.is_alive()

    async def close(self) -> None:
        """Commit everything queued, then stop the writer."""
        self._closing.set()
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        self._conn.close()

    # --- writer thread ------------------------------------------------------------

    def _writer(self) -> None:
        stop = False
        while not stop:
            batch, stop = take_batch(self._queue, _STOP, self._max_batch)
            if batch:
                self._commit(batch)
        # Anything queued behind the stop (the writer's own recovery alarm) still commits.
        leftover = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _STOP:
                leftover.append(item)
        if leftover:
            self._commit(leftover)

    def _set_sync(self, mode: str) -> None:
        if mode != self._sync_mode:
            self._conn.execute(f"PRAGMA synchronous = {mode}")
            self._sync_mode = mode

    def _commit(self, batch: list[tuple[Event, asyncio.Future[Entry] | None]]) -> None:
        """Commit ``batch``, retrying transient failures until it commits or we close."""
        futures = [f for _, f in batch]
        bodies = [ev.body() for ev, _ in batch]
        rows = [
            (ev.at.isoformat(), ev.KIND, str(ev.CLASS), ev.source, json.dumps(body))
            for (ev, _), body in zip(batch, bodies, strict=True)
        ]
        durable = any(ev.CLASS in DURABLE_CLASSES for ev, _ in batch)
        backoff = Backoff(_RETRY_FIRST_S, _RETRY_MAX_S)
        outage_since: datetime | None = None
        while True:
            try:
                first = self._insert(rows, durable)
                break
            except sqlite3.Error as exc:
                if not retryable(exc) or self._closing.is_set():
                    err = StoreError(f"journal commit failed ({len(batch)} events): {exc}")
                    log.error("journal_commit_failed", error=str(exc), events=len(batch))
                    self._loop.call_soon_threadsafe(self._fail, futures, err)
                    if not retryable(exc):
                        self._failed_for_good(exc, len(batch))
                    return
                if _lock_contention(exc):  # another writer (a big import): wait our turn
                    log.warning("journal_busy", error=str(exc), pending=len(batch))
                elif outage_since is None:
                    outage_since = datetime.now(UTC)
                    self._report_full(True, str(exc))
                    log.error("journal_storage_full", error=str(exc), pending=len(batch))
                self._closing.wait(backoff.next())
        if self.store_error:
            self._store_recovered()
        entries = [
            Entry(first + i, ev.at, ev.KIND, ev.CLASS, ev.source, body)
            for i, ((ev, _), body) in enumerate(zip(batch, bodies, strict=True))
        ]
        self._loop.call_soon_threadsafe(self._deliver, futures, entries)
        if outage_since is not None:  # the alarm counts everything that waited, not one batch
            self._recovered(outage_since, len(batch) + self._queue.qsize())

    def _insert(self, rows: list[tuple[str, str, str, str, str]], durable: bool) -> int:
        """Insert ``rows`` in one transaction; return the first row's seq."""
        conn = self._conn
        self._set_sync("FULL" if durable else "NORMAL")
        with transaction(conn):
            first = head_seq(conn) + 1
            conn.executemany(_INSERT, rows)
        return first

    def _failed_for_good(self, exc: sqlite3.Error, events: int) -> None:
        """Count it, turn health red, and tell operators now: the journal cannot carry it."""
        COMMIT_FAILURES.labels(getattr(exc, "sqlite_errorname", "") or "error").inc()
        self._lost += events
        if self.store_error:
            return
        self.store_error = str(exc)
        alarm = StoreFailed(
            source="journal", at=datetime.now(UTC), active=True, error=str(exc), lost_events=events
        )
        entry = Entry(0, alarm.at, alarm.KIND, alarm.CLASS, alarm.source, alarm.body())
        self._loop.call_soon_threadsafe(self.publish, [entry])

    def _store_recovered(self) -> None:
        log.warning("journal_store_recovered", error=self.store_error, lost_events=self._lost)
        alarm = StoreFailed(
            source="journal",
            at=datetime.now(UTC),
            active=False,
            error=self.store_error,
            lost_events=self._lost,
        )
        self.store_error = ""
        self._lost = 0
        self._queue.put((alarm, None))

    def _report_full(self, full: bool, error: str) -> None:
        self.storage_full = full
        self.storage_error = error
        if self.on_storage_full is not None:
            self._loop.call_soon_threadsafe(self.on_storage_full, full, error)

    def _recovered(self, since: datetime, pending: int) -> None:
        now = datetime.now(UTC)
        log.warning("journal_storage_recovered", error=self.storage_error, pending=pending)
        alarm = StorageFull(
            source="journal",
            at=now,
            error=self.storage_error,
            since=since,
            seconds=round((now - since).total_seconds(), 3),
            pending_events=pending,
        )
        self._queue.put((alarm, None))  # queued before anyone hears of the recovery
        self._report_full(False, "")

    def _fail(self, futures: list[asyncio.Future[Entry] | None], err: Exception) -> None:
        for fut in futures:
            if fut is not None and not fut.done():
                fut.set_exception(err)

    def _deliver(self, futures: list[asyncio.Future[Entry] | None], entries: list[Entry]) -> None:
        for fut, entry in zip(futures, entries, strict=True):
            if fut is not None and not fut.done():
                fut.set_result(entry)
        for q in self._subscribers:
            for entry in entries:
                if q.full():
                    break
                q.put_nowait(entry)
