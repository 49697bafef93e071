"""Ordered background writes: the event loop never waits on the disk.

Work orders, tours and availability keep their live state in memory and hand each change
to this writer, which applies the changes on its own thread and connection in the order
they were made. Changes waiting together share one transaction (one commit); each runs in
its own savepoint, so a failing change is undone alone, logged, and its future fails.
A write lock held elsewhere (the journal's fsync, a big import) delays the writer only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import structlog

from edgectl.backoff import Backoff
from edgectl.store.batching import take_batch
from edgectl.store.db import open_store

log = structlog.get_logger(__name__)

T = TypeVar("T")
# (change, its arguments, its future, whether it runs in a transaction of its own)
Item = tuple[Callable[..., Any], tuple[Any, ...], "concurrent.futures.Future[Any]", bool]
MAX_BATCH = 1000
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 30.0


class Writer:
    def __init__(self, path: Path | str, name: str = "store-writer") -> None:
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        opened: concurrent.futures.Future[sqlite3.Connection] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(path, opened), name=name)
        self._thread.daemon = True
        self._thread.start()
        self.conn = opened.result()  # raises StoreError if the store cannot be opened

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn, *args)`` to run inside a shared transaction; returns at once."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((fn, args, fut, False))
        return fut

    def submit_alone(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn, *args)``, which runs its own transaction (an audited change
        commits with its audit event), in order with the others; returns at once."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((fn, args, fut, True))
        return fut

    async def flush(self) -> None:
        """Wait until every change queued so far is committed."""
        await asyncio.wrap_future(self.submit(lambda conn: None))

    def close(self) -> None:
        """Commit everything queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self, path: Path | str, opened: concurrent.futures.Future[sqlite3.Connection]) -> None:
        try:
            conn = open_store(path)
        except Exception as exc:
            opened.set_exception(exc)
            return
        opened.set_result(conn)
        stopping = False
        while not stopping:
            batch, stopping = take_batch(self._queue, None, MAX_BATCH)
            group: list[Item] = []
            for item in batch:
                if item[3]:  # its own transaction: after what was queued before it
                    if group:
                        self._commit_retrying(conn, group)
                    group = []
                    self._run_alone(conn, item)
                else:
                    group.append(item)
            if group:
                self._commit_retrying(conn, group)
        conn.close()

    def _run_alone(self, conn: sqlite3.Connection, item: Item) -> None:
        fn, args, fut, _ = item
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(conn, *args))
        except Exception as exc:
            log.error("store_write_failed", change=getattr(fn, "__name__", "?"), error=str(exc))
            fut.set_exception(exc)

    def _commit_retrying(self, conn: sqlite3.Connection, batch: list[Item]) -> None:
        """A batch that cannot commit (locked, disk full) is retried whole until it does."""
        backoff = Backoff(RETRY_FIRST_S, RETRY_MAX_S)
        while True:
            try:
                self._commit(conn, batch)
                return
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                delay = backoff.next()
                log.error("store_commit_failed", error=str(exc), changes=len(batch), retry_s=delay)
                time.sleep(delay)

    def _commit(self, conn: sqlite3.Connection, batch: list[Item]) -> None:
        outcomes: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        conn.execute("BEGIN IMMEDIATE")
        for fn, args, fut, _ in batch:
            if fut.cancelled():
                continue  # nobody waits for it any more (a stopped daily run)
            conn.execute("SAVEPOINT change")
            try:
                result = fn(conn, *args)
            except sqlite3.OperationalError:
                raise  # the store itself failed (locked, full): retry the whole batch
            except Exception as exc:
                conn.execute("ROLLBACK TO change")
                log.error("store_write_failed", change=getattr(fn, "__name__", "?"), error=str(exc))
                outcomes.append((fut, None, exc))
            else:
                outcomes.append((fut, result, None))
            conn.execute("RELEASE change")
        conn.execute("COMMIT")
        for fut, result, error in outcomes:
            if not fut.set_running_or_notify_cancel():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
