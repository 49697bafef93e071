"""Small durable settings in the ``kv`` table: sync cursors, last sync time, failure counts."""

from __future__ import annotations

import sqlite3

from edgectl.store import credentials

LAST_SYNC_AT = credentials.LAST_SYNC  # last fully successful sync; the access index reads it
ACKED_SEQ = "sync.acked_seq"  # highest contiguous journal seq the hub has stored
CHANGES_CURSOR = "sync.changes_cursor"  # hub cursor of people/credential/level changes
WORKORDERS_CURSOR = "sync.workorders_cursor"  # hub cursor of work orders
FAILURES = "sync.failures"  # JSON {kind: count}
LAST_ERROR = "sync.last_error"  # JSON {"kind", "message", "at"}


def get(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else default


def put(conn: sqlite3.Connection, key: str, value: str | int) -> None:
    """Upsert ``key`` (inside the caller's transaction if one is open)."""
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, str(value)),
    )


def acked_seq(conn: sqlite3.Connection) -> int:
    return int(get(conn, ACKED_SEQ, "0"))
