"""The one way to run a SQLite transaction on an autocommit (``isolation_level=None``)
connection: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

    with transaction(conn):
        conn.execute(...)

``immediate=False`` begins a deferred transaction: a consistent read snapshot (one WAL
read mark) that takes no write lock until it writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["transaction"]


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
