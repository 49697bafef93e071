"""Decision effects (anti-passback moves, visitor-pass uses) persisted in order, off the loop.

The access index applies a decision's updates in memory at once and hands them here with
an increasing batch id. A writer thread commits them in order, each transaction also
recording the last batch id in ``kv['access.effects_applied']``, so the index can tell, in
one consistent read, which of its in-memory updates the database already holds.

A lock held by another process, a full disk or an I/O error never loses a batch: the writer
retries with backoff until it commits. Only an update that can never apply (a constraint
the data breaks) is logged and skipped.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from pathlib import Path

import structlog

from edgectl.backoff import Backoff
from edgectl.store.batching import take_batch
from edgectl.store.credentials import EFFECTS_APPLIED
from edgectl.store.db import open_store
from edgectl.store.journal import retryable
from edgectl.store.kv import put
from edgectl.store.tx import transaction
from rules.access import AreaMove, PassUse, Update

log = structlog.get_logger(__name__)

Batch = tuple[int, tuple[Update, ...]]
_RETRY_FIRST_S = 0.01
_RETRY_MAX_S = 0.5
_STOP = None


def applied_batch(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (EFFECTS_APPLIED,)).fetchone()
    return int(row[0]) if row else 0


def write_updates(conn: sqlite3.Connection, updates: tuple[Update, ...]) -> None:
    """Apply decision updates inside the caller's transaction."""
    for u in updates:
        if isinstance(u, PassUse):
            conn.execute(
                "UPDATE visitor_passes SET uses = uses + 1 WHERE credential_id = ?",
                (u.credential_id,),
            )
            continue
        scope, state = (
            (f"area:{u.area}", u.state)
            if isinstance(u, AreaMove)
            else (f"target:{u.target}", "passed")
        )
        conn.execute(
            "INSERT OR REPLACE INTO antipassback VALUES (?, ?, ?, ?)",
            (u.person_id, scope, state, u.at.isoformat()),
        )


class EffectWriter:
    """``submit`` never blocks; ``flush`` waits until everything submitted is on disk."""

    def __init__(self, path: Path | str) -> None:
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._done = threading.Condition()
        self._closing = threading.Event()
        self._conn = open_store(path)
        self.persisted = applied_batch(self._conn)
        self._submitted = self.persisted
        self.retries = 0
        self._thread = threading.Thread(target=self._run, name="access-effects", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._submitted - self.persisted

    def submit(self, batch_id: int, updates: tuple[Update, ...]) -> None:
        self._submitted = batch_id
        self._queue.put((batch_id, updates))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted batch is committed; False if ``timeout`` ran out."""
        with self._done:
            return self._done.wait_for(lambda: self.persisted >= self._submitted, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Persist what is queued (retrying up to ``timeout``), then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._closing.set()
            self._thread.join()
        if self.pending:
            log.error("access_effects_unsaved", batches=self.pending)
        self._conn.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            batches, stop = take_batch(self._queue, _STOP, 1000)
            if batches and not self._commit(batches):
                return

    def _commit(self, batches: list[Batch]) -> bool:
        backoff = Backoff(_RETRY_FIRST_S, _RETRY_MAX_S)
        while True:
            try:
                with transaction(self._conn):
                    for _, updates in batches:
                        write_updates(self._conn, updates)
                    put(self._conn, EFFECTS_APPLIED, batches[-1][0])
                break
            except sqlite3.Error as exc:
                if not retryable(exc):
                    log.error("access_effects_dropped", error=str(exc), batches=len(batches))
                    break
                if self._closing.is_set():
                    return False
                self.retries += 1
                log.warning("access_effects_retry", error=str(exc), batches=len(batches))
                self._closing.wait(backoff.next())
            except Exception:  # a bug must not end the writer: log the batch, carry on
                log.exception("access_effects_dropped", batches=len(batches))
                break
        with self._done:
            self.persisted = batches[-1][0]
            self._done.notify_all()
        return True
