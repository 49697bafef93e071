"""The reference hub's SQLite store: sites and tokens, events, people/credential records,
work orders. Every write is one transaction with ``synchronous=FULL``; the hub acks only
what has committed.

Records and work orders are kept as current state, each stamped with a per-hub cursor that
grows on every change, so a site pulls "what changed after my cursor". A deleted record
stays as a tombstone until ``compact`` purges tombstones and raises the site's floor: a site
whose cursor is below the floor may have missed a delete and must take a full snapshot.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edgectl.store.tx import transaction
from edgectl.store.workorders import PRIORITIES, SITE_STATUSES
from sync.codec import Batch

RECORD_TYPES = ("person", "credential", "access_level", "group")
FAULT_KINDS = frozenset({"gate_command_failed", "device_offline"})  # open a work order
COMPLETE_WITHIN = {"service": timedelta(hours=24), "emergency": timedelta(hours=4)}

SCHEMA = """
CREATE TABLE IF NOT EXISTS sites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    evicted INTEGER NOT NULL DEFAULT 0,
    changes_floor INTEGER NOT NULL DEFAULT 0,
    last_seen_at TEXT
);
CREATE TABLE IF NOT EXISTS events (
    site TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    cls TEXT NOT NULL,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (site, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    site TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (site, type, id)
);
CREATE INDEX IF NOT EXISTS records_cursor ON records (site, cursor);
CREATE TABLE IF NOT EXISTS work_orders (
    site TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (site, id)
);
CREATE INDEX IF NOT EXISTS work_orders_cursor ON work_orders (site, cursor);
CREATE TABLE IF NOT EXISTS work_order_updates (
    site TEXT NOT NULL,
    update_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    note TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (site, update_id)
);
"""


class HubError(Exception):
    """A request the hub refuses: ``code`` and ``status`` go into the error body."""

    def __init__(self, status: int, code: str, message: str, **detail: Any) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Ingested:
    acked_seq: int
    stored: int
    duplicates: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class HubStore:
    def __init__(self, path: Path | str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def _tx(self) -> AbstractContextManager[None]:
        return transaction(self.conn)

    def _next_cursor(self, table: str, site: str) -> int:
        """The site's next change cursor in ``table``: above every cursor ever handed out,
        including those of tombstones that ``compact`` purged (the floor)."""
        row = self.conn.execute(
            f"SELECT max(coalesce(max(t.cursor), 0), s.changes_floor) + 1 FROM sites s "
            f"LEFT JOIN {table} t ON t.site = s.id WHERE s.id = ?",
            (site,),
        ).fetchone()
        return int(row[0])

    # --- sites -------------------------------------------------------------------------

    def add_site(self, site: str, name: str = "") -> str:
        """Register ``site``; return its new bearer token (only its hash is stored)."""
        token = secrets.token_urlsafe(24)
        try:
            self.conn.execute(
                "INSERT INTO sites (id, name, token_sha256, created_at) VALUES (?, ?, ?, ?)",
                (site, name, _hash(token), _now()),
            )
        except sqlite3.IntegrityError:
            raise HubError(409, "conflict", f"site {site!r} already exists") from None
        return token

    def rotate_token(self, site: str) -> str:
        token = secrets.token_urlsafe(24)
        cur = self.conn.execute(
            "UPDATE sites SET token_sha256 = ? WHERE id = ?", (_hash(token), site)
        )
        if cur.rowcount == 0:
            raise HubError(404, "not_found", f"no site {site!r}")
        return token

    def site_for_token(self, token: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM sites WHERE token_sha256 = ?", (_hash(token),)
        ).fetchone()
        return row[0] if row else None

    def sites(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT s.id, s.name, s.acked_seq, s.evicted, s.last_seen_at, "
            "(SELECT count(*) FROM events e WHERE e.site = s.id) FROM sites s ORDER BY s.id"
        ).fetchall()
        keys = ("id", "name", "acked_seq", "evicted", "last_seen_at", "events")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def _site(self, site: str) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT acked_seq, changes_floor FROM sites WHERE id = ?", (site,)
        ).fetchone()
        if row is None:
            raise HubError(404, "not_found", f"no site {site!r}")
        return int(row[0]), int(row[1])

    # --- events ------------------------------------------------------------------------

    def acked(self, site: str) -> int:
        return self._site(site)[0]

    def ingest(self, site: str, batch: Batch) -> Ingested:
        """Store a batch; dedupe on (site, seq); ack the highest contiguous seq."""
        now = _now()
        with self._tx():
            acked, _ = self._site(site)
            if batch.from_seq > acked + 1:
                raise HubError(
                    409,
                    "gap",
                    f"batch starts at seq {batch.from_seq} but the hub has only up to {acked}",
                    acked_seq=acked,
                )
            new = [e for e in batch.events if e["seq"] > acked]
            self.conn.executemany(
                "INSERT INTO events (site, seq, at, kind, cls, source, body, schema_version, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        site,
                        e["seq"],
                        e["at"],
                        e["kind"],
                        e["class"],
                        e["source"],
                        json.dumps(e["body"], separators=(",", ":")),
                        e["schema_version"],
                        now,
                    )
                    for e in new
                ],
            )
            for e in new:
                if e["kind"] in FAULT_KINDS:
                    self._fault_order(site, e)
            top = max(acked, batch.to_seq)
            evicted = (top - acked) - len(new)
            self.conn.execute(
                "UPDATE sites SET acked_seq = ?, evicted = evicted + ?, last_seen_at = ? "
                "WHERE id = ?",
                (top, evicted, now, site),
            )
        return Ingested(top, len(new), len(batch.events) - len(new))

    def events(self, site: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT seq, at, kind, cls, source, body FROM events WHERE site = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (site, after, limit),
        ).fetchall()
        keys = ("seq", "at", "kind", "class", "source", "body")
        return [dict(zip(keys, (*r[:5], json.loads(r[5])), strict=True)) for r in rows]

    # --- people, credentials, access levels ------------------------------------------------

    def put_record(self, site: str, type_: str, rid: str | int, data: dict[str, Any]) -> int:
        return self._write_record(site, type_, rid, data)

    def delete_record(self, site: str, type_: str, rid: str | int) -> int:
        return self._write_record(site, type_, rid, None)

    def _write_record(
        self, site: str, type_: str, rid: str | int, data: dict[str, Any] | None
    ) -> int:
        if type_ not in RECORD_TYPES:
            raise HubError(400, "bad_request", f"type: expected one of {RECORD_TYPES}")
        with self._tx():
            self._site(site)
            cursor = self._next_cursor("records", site)
            self.conn.execute(
                "INSERT INTO records (site, type, id, data, deleted, cursor) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (site, type, id) DO UPDATE SET data = excluded.data, "
                "deleted = excluded.deleted, cursor = excluded.cursor",
                (
                    site,
                    type_,
                    str(rid),
                    json.dumps(data) if data is not None else None,
                    int(data is None),
                    cursor,
                ),
            )
        return cursor

    def record(self, site: str, type_: str, rid: str | int) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT data FROM records WHERE site = ? AND type = ? AND id = ? AND deleted = 0",
            (site, type_, str(rid)),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def next_credential_id(self, site: str) -> int:
        row = self.conn.execute(
            "SELECT coalesce(max(CAST(id AS INTEGER)), 0) + 1 FROM records "
            "WHERE site = ? AND type = 'credential'",
            (site,),
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _record_json(row: tuple[Any, ...]) -> dict[str, Any]:
        type_, rid, data, deleted, cursor = row
        return {
            "cursor": cursor,
            "type": type_,
            "op": "delete" if deleted else "upsert",
            "id": int(rid) if type_ == "credential" else rid,
            "data": json.loads(data) if data else None,
        }

    def changes(self, site: str, after: int, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        _, floor = self._site(site)
        if after < floor:
            raise HubError(
                410,
                "cursor_expired",
                f"cursor {after} is older than {floor}: take /snapshot",
                floor=floor,
            )
        rows = self.conn.execute(
            "SELECT type, id, data, deleted, cursor FROM records WHERE site = ? AND cursor > ? "
            "ORDER BY cursor LIMIT ?",
            (site, after, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        out = [self._record_json(r) for r in rows[:limit]]
        return out, (out[-1]["cursor"] if out else after), more

    def snapshot(self, site: str) -> tuple[int, list[dict[str, Any]]]:
        with self._tx():
            self._site(site)
            rows = self.conn.execute(
                "SELECT type, id, data, deleted, cursor FROM records "
                "WHERE site = ? AND deleted = 0",
                (site,),
            ).fetchall()
            top = self.conn.execute(
                "SELECT coalesce(max(cursor), 0) FROM records WHERE site = ?", (site,)
            ).fetchone()[0]
        return int(top), [self._record_json(r) for r in rows]

    def compact(self, site: str) -> int:
        """Purge the site's tombstones; older cursors must then resync. Returns the floor."""
        with self._tx():
            _, floor = self._site(site)
            row = self.conn.execute(
                "SELECT max(cursor) FROM records WHERE site = ? AND deleted = 1", (site,)
            ).fetchone()
            if row[0] is not None:
                floor = max(floor, int(row[0]))
                self.conn.execute("DELETE FROM records WHERE site = ? AND deleted = 1", (site,))
                self.conn.execute("UPDATE sites SET changes_floor = ? WHERE id = ?", (floor, site))
        return floor

    # --- work orders -----------------------------------------------------------------------

    def create_workorder(
        self,
        site: str,
        title: str,
        *,
        kind: str = "service",
        priority: str = "service",
        detail: str = "",
        target: str | None = None,
        assignee: str | None = None,
        now: datetime | None = None,
        order_id: str | None = None,
        respond_within: timedelta | None = None,
        complete_within: timedelta | None = None,
    ) -> dict[str, Any]:
        if priority not in PRIORITIES:
            raise HubError(400, "bad_request", f"priority: expected one of {sorted(PRIORITIES)}")
        now = now or datetime.now(UTC)
        order = {
            "id": order_id or f"WO-{secrets.token_hex(4)}",
            "kind": kind,
            "priority": priority,
            "title": title,
            "detail": detail,
            "target": target,
            "assignee": assignee,
            "status": "open",
            "created_at": now.isoformat(),
            "respond_by": (now + (respond_within or PRIORITIES[priority])).isoformat(),
            "complete_by": (now + (complete_within or COMPLETE_WITHIN[priority])).isoformat(),
            "updated_at": now.isoformat(),
        }
        with self._tx():
            self._site(site)
            self._save_order(site, order, insert=True)
        return order

    def _fault_order(self, site: str, event: dict[str, Any]) -> None:
        """A device fault reported by a site opens a work order, unless one is still open."""
        title = f"{event['kind']} on {event['source']}"
        if self.conn.execute(
            "SELECT 1 FROM work_orders WHERE site = ? AND json_extract(data, '$.kind') = 'fault' "
            "AND json_extract(data, '$.title') = ? "
            "AND json_extract(data, '$.status') NOT IN ('done', 'closed', 'cancelled')",
            (site, title),
        ).fetchone():
            return
        at = datetime.fromisoformat(event["at"])
        order = {
            "id": f"F-{event['seq']}",
            "kind": "fault",
            "priority": "service",
            "title": title,
            "detail": json.dumps(event["body"], sort_keys=True),
            "target": event["source"],
            "assignee": None,
            "status": "open",
            "created_at": at.isoformat(),
            "respond_by": (at + PRIORITIES["service"]).isoformat(),
            "complete_by": (at + COMPLETE_WITHIN["service"]).isoformat(),
            "updated_at": at.isoformat(),
        }
        self._save_order(site, order, insert=True)

    def _save_order(self, site: str, order: dict[str, Any], *, insert: bool) -> None:
        cursor = self._next_cursor("work_orders", site)
        verb = "INSERT OR IGNORE" if insert else "INSERT OR REPLACE"
        self.conn.execute(
            f"{verb} INTO work_orders (site, id, data, cursor) VALUES (?, ?, ?, ?)",
            (site, order["id"], json.dumps(order), cursor),
        )

    def workorder(self, site: str, order_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT data FROM work_orders WHERE site = ? AND id = ?", (site, order_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def workorders(
        self, site: str, after: int = 0, limit: int = 1000
    ) -> tuple[list[dict[str, Any]], int, bool]:
        self._site(site)
        rows = self.conn.execute(
            "SELECT data, cursor FROM work_orders WHERE site = ? AND cursor > ? "
            "ORDER BY cursor LIMIT ?",
            (site, after, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return [json.loads(r[0]) for r in rows], (rows[-1][1] if rows else after), more

    def set_status(
        self, site: str, order_id: str, update: dict[str, Any], by_hub: bool = False
    ) -> bool:
        """Apply a status update once (dedupe on update_id). Returns False for a repeat."""
        status = update["status"]
        if not by_hub and status not in SITE_STATUSES:
            raise HubError(400, "bad_request", f"status: a site may report {sorted(SITE_STATUSES)}")
        with self._tx():
            order = self.workorder(site, order_id)
            if order is None:
                raise HubError(404, "not_found", f"no work order {order_id!r} for site {site!r}")
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO work_order_updates (site, update_id, order_id, status, "
                "at, by, note, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    site,
                    update["update_id"],
                    order_id,
                    status,
                    update["at"],
                    update.get("by", ""),
                    update.get("note", ""),
                    _now(),
                ),
            )
            if cur.rowcount == 0:
                return False
            if order["status"] in ("closed", "cancelled") and not by_hub:
                raise HubError(409, "conflict", f"work order {order_id!r} is {order['status']}")
            order.update(status=status, updated_at=update["at"])
            self._save_order(site, order, insert=False)
        return True

    def history(self, site: str, order_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT update_id, status, at, by, note FROM work_order_updates "
            "WHERE site = ? AND order_id = ? ORDER BY at",
            (site, order_id),
        ).fetchall()
        return [
            dict(zip(("update_id", "status", "at", "by", "note"), r, strict=True)) for r in rows
        ]
