"""The reference hub's SQLite store: sites and tokens, events, people/credential records,
work orders. Every write is one transaction with ``synchronous=FULL``; the hub acks only
what has committed.

Records and work orders are kept as current state, each stamped with a per-hub cursor that
grows on every change, so a site pulls "what changed after my cursor". A deleted record
stays as a tombstone until ``compact`` purges tombstones and raises the site's floor: a site
whose cursor is below the floor may have missed a delete and must take a full snapshot.

Events are keyed by (site, epoch, seq): the epoch names one site journal (one database).
The hub takes batches from the site's current epoch only; a new epoch is adopted on first
contact, or after ``reprovision`` (the old epoch's events stay). PINs are stored only as
keyed digests (``sync.pins``) under a per-site key kept in a 0600 file beside the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edgectl.store.db import create_private
from edgectl.store.tx import transaction
from edgectl.store.workorders import PRIORITIES
from sync import pins
from sync.codec import SITE, Batch

RECORD_TYPES = ("person", "credential", "access_level", "group")
FAULT_KINDS = frozenset({"gate_command_failed", "device_offline"})  # open a work order
COMPLETE_WITHIN = {"service": timedelta(hours=24), "emergency": timedelta(hours=4)}

# Work-order lifecycle. A site moves an order forward only; the hub closes or cancels it.
# The current vocabulary (issue 16) and the older one share ranks, so sites on either work.
STATUS_RANK = {
    "new": 0,
    "open": 0,
    "accepted": 1,
    "acknowledged": 1,
    "on_site": 2,
    "diagnosed": 3,
    "done": 4,
    "followed_up": 5,
    "closed": 5,
}
SITE_STATUSES = frozenset(
    {"accepted", "acknowledged", "on_site", "diagnosed", "done", "followed_up"}
)
HUB_STATUSES = frozenset({"closed", "cancelled"})
FINAL_STATUSES = frozenset({"closed", "cancelled", "followed_up"})

SCHEMA_V1 = """
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

# v2: journal epochs (events keyed by (site, epoch, seq)), disabled sites.
SCHEMA_V2 = """
ALTER TABLE sites ADD COLUMN epoch TEXT;
ALTER TABLE sites ADD COLUMN reprovision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN disabled_at TEXT;
CREATE TABLE epochs (
    site TEXT NOT NULL,
    epoch TEXT NOT NULL,
    acked_seq INTEGER NOT NULL,
    evicted INTEGER NOT NULL,
    ended_at TEXT NOT NULL,
    PRIMARY KEY (site, epoch)
);
CREATE TABLE events_v2 (
    site TEXT NOT NULL,
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    cls TEXT NOT NULL,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (site, epoch, seq)
) WITHOUT ROWID;
INSERT INTO events_v2 SELECT site, '', seq, at, kind, cls, source, body, schema_version,
    received_at FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
"""

# v3: evidence thumbnails (sync/hub/evidence.py); a hub of issue 14 made this table already.
SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS evidence (
    site TEXT NOT NULL,
    id TEXT NOT NULL,
    jpeg BLOB NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (site, id)
)
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
        self.path = Path(path)
        create_private(self.path)
        os.chmod(self.path, 0o600)  # a hub DB an older version created 0644
        self.keys = pins.KeyDir(Path(f"{self.path}.keys"))
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self._migrate()

    def _migrate(self) -> None:
        if self.conn.execute("PRAGMA user_version").fetchone()[0] >= 3:
            return
        with self._tx():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version < 1:
                for statement in SCHEMA_V1.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
            if version < 2:
                for statement in SCHEMA_V2.split(";\n"):
                    if statement.strip():
                        self.conn.execute(statement)
                self._key_stored_pins()
            if version < 3:
                self.conn.execute(SCHEMA_V3)
            self.conn.execute("PRAGMA user_version = 3")

    def _key_stored_pins(self) -> None:
        """Replace PINs an older hub stored in clear by keyed digests (new cursors, so sites
        pull them)."""
        rows = self.conn.execute(
            "SELECT site, id, data FROM records WHERE type = 'credential' AND deleted = 0 "
            "AND (json_extract(data, '$.pin') IS NOT NULL "
            "OR json_extract(data, '$.duress_pin') IS NOT NULL)"
        ).fetchall()
        for site, rid, data in rows:
            cursor = self._next_cursor("records", site)
            keyed = pins.key_record(self.keys.key(site), json.loads(data))
            self.conn.execute(
                "UPDATE records SET data = ?, cursor = ? WHERE site = ? AND type = 'credential' "
                "AND id = ?",
                (json.dumps(keyed), cursor, site, rid),
            )

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
        """Register ``site``; return its new bearer token (only its hash is stored). Its PIN
        key is created too (``pin_key``)."""
        if not SITE.fullmatch(site):
            raise HubError(400, "bad_request", "site: expected 1..64 of A-Z a-z 0-9 _ -")
        token = secrets.token_urlsafe(24)
        try:
            self.conn.execute(
                "INSERT INTO sites (id, name, token_sha256, created_at) VALUES (?, ?, ?, ?)",
                (site, name, _hash(token), _now()),
            )
        except sqlite3.IntegrityError:
            raise HubError(409, "conflict", f"site {site!r} already exists") from None
        self.keys.key(site)
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
        """The enabled site this token belongs to, or None."""
        row = self.conn.execute(
            "SELECT id FROM sites WHERE token_sha256 = ? AND disabled_at IS NULL", (_hash(token),)
        ).fetchone()
        return row[0] if row else None

    def enabled(self, site: str) -> bool:
        """Whether ``site`` exists and is not disabled (a certificate for it then counts)."""
        row = self.conn.execute(
            "SELECT 1 FROM sites WHERE id = ? AND disabled_at IS NULL", (site,)
        ).fetchone()
        return row is not None

    def set_disabled(self, site: str, disabled: bool) -> None:
        """Cut a site off (its token and certificate get 401) or let it back in."""
        cur = self.conn.execute(
            "UPDATE sites SET disabled_at = ? WHERE id = ?", (_now() if disabled else None, site)
        )
        if cur.rowcount == 0:
            raise HubError(404, "not_found", f"no site {site!r}")

    def delete_site(self, site: str) -> None:
        """Remove a site and everything the hub holds for it (events, records, orders,
        evidence, key)."""
        with self._tx():
            self._site(site)
            tables = (
                "events",
                "epochs",
                "records",
                "work_orders",
                "work_order_updates",
                "evidence",
            )
            for table in tables:
                self.conn.execute(f"DELETE FROM {table} WHERE site = ?", (site,))
            self.conn.execute("DELETE FROM sites WHERE id = ?", (site,))
        self.keys.remove(site)

    def reprovision(self, site: str) -> None:
        """Let the site's next batch start a new journal epoch; the current one's events stay."""
        cur = self.conn.execute("UPDATE sites SET reprovision = 1 WHERE id = ?", (site,))
        if cur.rowcount == 0:
            raise HubError(404, "not_found", f"no site {site!r}")

    def pin_key(self, site: str) -> bytes:
        """The site's PIN key (created on first use)."""
        self._site(site)
        return self.keys.key(site)

    def sites(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT s.id, s.name, s.acked_seq, s.evicted, s.last_seen_at, s.epoch, "
            "s.reprovision, s.disabled_at, "
            "(SELECT count(*) FROM events e WHERE e.site = s.id), "
            "(SELECT json_group_array(json_object('epoch', p.epoch, 'acked_seq', p.acked_seq, "
            "'ended_at', p.ended_at)) FROM epochs p WHERE p.site = s.id) "
            "FROM sites s ORDER BY s.id"
        ).fetchall()
        keys = ("id", "name", "acked_seq", "evicted", "last_seen_at", "epoch", "reprovision")
        return [
            {
                **dict(zip(keys, r[:7], strict=True)),
                "reprovision": bool(r[6]),
                "disabled_at": r[7],
                "events": r[8],
                "past_epochs": json.loads(r[9]),
            }
            for r in rows
        ]

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

    def epoch(self, site: str) -> str | None:
        self._site(site)
        row = self.conn.execute("SELECT epoch FROM sites WHERE id = ?", (site,)).fetchone()
        return str(row[0]) if row[0] is not None else None

    def _take_epoch(self, site: str, epoch: str) -> int:
        """The acked seq of ``epoch`` for ``site``, adopting it if the site may start it."""
        acked, current, again = self.conn.execute(
            "SELECT acked_seq, epoch, reprovision FROM sites WHERE id = ?", (site,)
        ).fetchone()
        if current == epoch:
            return int(acked)
        past = self.conn.execute(
            "SELECT 1 FROM epochs WHERE site = ? AND epoch = ?", (site, epoch)
        ).fetchone()
        if current is None:  # first contact (or an older hub's stream: it becomes this epoch)
            self.conn.execute("UPDATE sites SET epoch = ? WHERE id = ?", (epoch, site))
            self.conn.execute(
                "UPDATE events SET epoch = ? WHERE site = ? AND epoch = ''", (epoch, site)
            )
            return int(acked)
        if again and not past:
            self.conn.execute(
                "INSERT INTO epochs (site, epoch, acked_seq, evicted, ended_at) "
                "SELECT id, epoch, acked_seq, evicted, ? FROM sites WHERE id = ?",
                (_now(), site),
            )
            self.conn.execute(
                "UPDATE sites SET epoch = ?, acked_seq = 0, evicted = 0, reprovision = 0 "
                "WHERE id = ?",
                (epoch, site),
            )
            return 0
        raise _epoch_mismatch(site, epoch, current, int(acked))

    def _check_reuse(self, site: str, epoch: str, acked: int, batch: Batch) -> None:
        """A resent seq must be the event the hub holds; else the journal reuses seqs (a
        database restored from a backup) and its new events would be dropped as duplicates."""
        old = [e for e in batch.events if e["seq"] <= acked]
        if not old:
            return
        held = dict(
            self.conn.execute(
                "SELECT seq, at || '|' || kind || '|' || source FROM events "
                "WHERE site = ? AND epoch = ? AND seq BETWEEN ? AND ?",
                (site, epoch, old[0]["seq"], old[-1]["seq"]),
            ).fetchall()
        )
        for e in old:
            stored = held.get(e["seq"])
            if stored is not None and stored != f"{e['at']}|{e['kind']}|{e['source']}":
                raise _epoch_mismatch(site, epoch, epoch, acked, reused=e["seq"])

    def ingest(self, site: str, batch: Batch) -> Ingested:
        """Store a batch; dedupe on (site, epoch, seq); ack the highest contiguous seq."""
        now = _now()
        with self._tx():
            self._site(site)
            acked = self._take_epoch(site, batch.epoch)
            if batch.from_seq > acked + 1:
                raise HubError(
                    409,
                    "gap",
                    f"batch starts at seq {batch.from_seq} but the hub has only up to {acked}",
                    acked_seq=acked,
                )
            self._check_reuse(site, batch.epoch, acked, batch)
            new = [e for e in batch.events if e["seq"] > acked]
            self.conn.executemany(
                "INSERT INTO events (site, epoch, seq, at, kind, cls, source, body, "
                "schema_version, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        site,
                        batch.epoch,
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

    def events(
        self, site: str, after: int = 0, limit: int = 1000, epoch: str | None = None
    ) -> list[dict[str, Any]]:
        """Events of ``epoch`` (default: the site's current one), oldest first."""
        if epoch is None:
            epoch = self.epoch(site) or ""
        rows = self.conn.execute(
            "SELECT seq, at, kind, cls, source, body FROM events WHERE site = ? AND epoch = ? "
            "AND seq > ? ORDER BY seq LIMIT ?",
            (site, epoch, after, limit),
        ).fetchall()
        keys = ("seq", "at", "kind", "class", "source", "body")
        return [dict(zip(keys, (*r[:5], json.loads(r[5])), strict=True)) for r in rows]

    # --- people, credentials, access levels ------------------------------------------------

    def put_record(self, site: str, type_: str, rid: str | int, data: dict[str, Any]) -> int:
        """Add or update a record; a credential's PINs are stored only as keyed digests."""
        if type_ == "credential":
            data = pins.key_record(self.pin_key(site), data)
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
        title = f"{event['kind']} on {event['source']}"[:300]
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
            "detail": json.dumps(event["body"], sort_keys=True)[:4000],
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
        """Apply a status update once (dedupe on update_id). Returns False for a repeat.

        A site moves an order forward through its lifecycle only (``STATUS_RANK``); the hub
        closes or cancels it. Anything else is 409 ``conflict`` naming both statuses.
        """
        status = update["status"]
        allowed = HUB_STATUSES if by_hub else SITE_STATUSES
        if status not in allowed:
            raise HubError(400, "bad_request", f"status: expected one of {sorted(allowed)}")
        with self._tx():
            order = self.workorder(site, order_id)
            if order is None:
                raise HubError(404, "not_found", f"no work order {order_id!r} for site {site!r}")
            if self.conn.execute(
                "SELECT 1 FROM work_order_updates WHERE site = ? AND update_id = ?",
                (site, update["update_id"]),
            ).fetchone():
                return False
            _check_transition(order_id, order["status"], status)
            self.conn.execute(
                "INSERT INTO work_order_updates (site, update_id, order_id, status, "
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


def _check_transition(order_id: str, old: str, new: str) -> None:
    if old in FINAL_STATUSES:
        raise HubError(409, "conflict", f"work order {order_id!r} is {old}: no further change")
    if new in HUB_STATUSES:
        return
    if STATUS_RANK[new] <= STATUS_RANK.get(old, -1):
        raise HubError(
            409,
            "conflict",
            f"work order {order_id!r} is {old}: a site moves it forward only, not to {new}",
        )


def _epoch_mismatch(
    site: str, epoch: str, current: str, acked: int, reused: int | None = None
) -> HubError:
    what = (
        f"seq {reused} of journal epoch {epoch} differs from the event the hub holds: this "
        "site's database reuses seqs (restored from a backup?)"
        if reused is not None
        else f"this site's journal is epoch {epoch}, but the hub holds epoch {current} for "
        f"site {site!r} up to seq {acked}: the box was replaced or its database wiped"
    )
    return HubError(
        409,
        "epoch_mismatch",
        f"{what}. Nothing was stored. To continue, re-provision: run `edgectl sync reprovision` "
        f"on the site, then `edgectl hub sites reprovision {site}` at the hub; the hub keeps "
        "the events of both journals.",
        epoch=current,
        acked_seq=acked,
    )
