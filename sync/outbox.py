"""The outbox: a cursor over the journal, kept in SQLite. No event is ever held only in RAM.

The cursor is ``kv['sync.acked_seq']``, the highest contiguous seq the hub has stored. A
batch is read straight from the journal after the cursor, so a restart, an upgrade or a
config change resumes exactly where the hub left off.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from edgectl.store import kv
from edgectl.store.credentials import bump_revision
from edgectl.store.journal import epoch, head_seq, new_epoch
from edgectl.store.tx import transaction
from sync.codec import MAX_DECODED_BYTES, MAX_EVENTS, Row, encode_batch, envelope


@dataclass(frozen=True, slots=True)
class Pending:
    """A batch ready to send: seqs ``from_seq..to_seq`` (``count`` envelopes, the rest evicted)."""

    from_seq: int
    to_seq: int
    count: int
    head: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Backlog:
    acked_seq: int
    head_seq: int
    depth: int  # events committed but not yet acknowledged by the hub
    oldest_unsent_at: datetime | None

    def oldest_age_s(self, now: datetime) -> float:
        return (now - self.oldest_unsent_at).total_seconds() if self.oldest_unsent_at else 0.0


def next_batch(
    conn: sqlite3.Connection, site: str, max_events: int, max_bytes: int
) -> Pending | None:
    """The next batch after the cursor, bounded by count and uncompressed bytes (>= 1 event).

    Cursor, head and rows are read in one transaction (one WAL snapshot), so a seq missing
    between the cursor and the head really was evicted, not committed a moment later.
    """
    max_events = min(max_events, MAX_EVENTS)  # the contract's cap: a hub refuses more (413)
    max_bytes = min(max_bytes, MAX_DECODED_BYTES // 2)
    with transaction(conn, immediate=False):
        cursor = kv.acked_seq(conn)
        head = head_seq(conn)
        journal_epoch = epoch(conn)
        rows: list[Row] = conn.execute(
            "SELECT seq, at, kind, cls, source, body, schema_version FROM journal "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (cursor, max_events),
        ).fetchall()
    if head <= cursor:
        return None
    envelopes: list[str] = []
    size = 0
    for row in rows:
        text = envelope(tuple(row))  # type: ignore[arg-type]
        if envelopes and size + len(text) > max_bytes:
            break
        envelopes.append(text)
        size += len(text)
    to_seq = rows[len(envelopes) - 1][0] if envelopes else head
    sent = [int(r[0]) for r in rows[: len(envelopes)]]
    body = encode_batch(
        site, journal_epoch, cursor + 1, to_seq, envelopes, gaps(cursor + 1, to_seq, sent)
    )
    return Pending(cursor + 1, to_seq, len(envelopes), head, body)


def gaps(lo: int, hi: int, seqs: list[int]) -> list[tuple[int, int]]:
    """The ranges of ``[lo, hi]`` missing from the increasing ``seqs`` (evicted)."""
    out = []
    expect = lo
    for s in [*seqs, hi + 1]:
        if s > expect:
            out.append((expect, s - 1))
        expect = s + 1
    return out


def start_new_epoch(conn: sqlite3.Connection, *, actor: str, interface: str) -> tuple[str, str]:
    """Re-provision: a new journal epoch and the cursor back to 0, so the hub gets the whole
    journal again as a new stream; journaled as an audit event. Returns (old, new) epoch."""
    with transaction(conn):
        old = epoch(conn)
        new = new_epoch(conn)
        kv.put(conn, kv.ACKED_SEQ, 0)
        body = {"actor": actor, "interface": interface, "old_epoch": old, "new_epoch": new}
        conn.execute(
            "INSERT INTO journal (at, kind, cls, source, body, schema_version) "
            "VALUES (?, 'sync_reprovisioned', 'audit', 'sync', ?, 1)",
            (datetime.now(UTC).isoformat(), json.dumps(body, sort_keys=True)),
        )
    return old, new


def set_cursor(conn: sqlite3.Connection, seq: int) -> None:
    kv.put(conn, kv.ACKED_SEQ, seq)


def backlog(conn: sqlite3.Connection) -> Backlog:
    cursor = kv.acked_seq(conn)
    head = head_seq(conn)
    depth = conn.execute("SELECT count(*) FROM journal WHERE seq > ?", (cursor,)).fetchone()[0]
    row = conn.execute(
        "SELECT at FROM journal WHERE seq > ? ORDER BY seq LIMIT 1", (cursor,)
    ).fetchone()
    oldest = datetime.fromisoformat(row[0]).astimezone(UTC) if row else None
    return Backlog(cursor, head, int(depth), oldest)


def record_sync(conn: sqlite3.Connection, at: datetime) -> None:
    """Record a fully successful sync round; the access index reloads it (degraded policy)."""
    with transaction(conn):
        kv.put(conn, kv.LAST_SYNC_AT, at.astimezone(UTC).isoformat())
        bump_revision(conn)


def last_sync(conn: sqlite3.Connection) -> datetime | None:
    """When the last fully successful sync round ended (for the degraded access policy)."""
    value = kv.get(conn, kv.LAST_SYNC_AT)
    return datetime.fromisoformat(value) if value else None
