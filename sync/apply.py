"""Apply pulled people, credential, group and access-level changes: validate all, then one
transaction.

A pulled page is a list of records ``{"cursor", "type", "op", "id", "data"}``; ``type`` is
``access_level``, ``group``, ``person`` or ``credential``, ``op`` is ``upsert`` or ``delete``
(revoking a card is an upsert with ``status: "revoked"``). ``parse_changes`` checks every
record first, credentials with the access store's own ``credential_values`` (so PINs are
stored as digests and plates normalised exactly as on site). The site service's
``apply_hub_changes`` then writes them (``write_changes``), the new cursor, an
access-revision bump and one audit event (actor ``hub``) in ONE transaction: one bad record,
whether malformed or breaking a reference, means nothing is applied and ``InvalidRecord``
names it. The bump makes every ``AccessIndex`` reload its cached levels and groups.

Hub credentials are matched by ``credentials.hub_id``; credentials created on site
(visitor passes, cards added locally) have no ``hub_id`` and are never touched by a pull.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.config import ROLES
from edgectl.store import kv
from edgectl.store.credentials import credential_row, credential_values

TYPES = ("access_level", "group", "person", "credential")  # upsert order; deletes go reversed
_ORDER = {t: i for i, t in enumerate(TYPES)}


class InvalidRecord(ValueError):
    """Record ``index`` of a pulled batch is invalid; nothing of the batch was applied."""

    def __init__(self, index: int, record_id: Any, problem: str) -> None:
        self.index = index
        self.record_id = record_id
        self.problem = problem
        super().__init__(f"record {index} (id {record_id!r}): {problem}")


@dataclass(frozen=True, slots=True)
class Change:
    index: int
    type: str
    op: str
    id: str | int
    data: dict[str, Any]
    row: tuple[Any, ...] = ()  # a credential's checked columns, in ``credentials`` order


def _opt(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValueError(f"{key}: expected {kind.__name__} or null, got {value!r:.40}")
    return value


def _time(data: dict[str, Any], key: str) -> datetime | None:
    value = _opt(data, key, str)
    try:
        return datetime.fromisoformat(value) if value is not None else None
    except ValueError:
        raise ValueError(f"{key}: not an ISO 8601 time: {value!r:.40}") from None


def _ids(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key}: expected a list of non-empty strings")
    return list(dict.fromkeys(value))


def _check_person(data: dict[str, Any]) -> tuple[Any, ...]:
    for key in ("name", "butler_id"):
        _opt(data, key, str)
    if data.get("role", "resident") not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {data.get('role')!r:.40}")
    if not isinstance(data.get("notify_arrival", False), bool):
        raise ValueError("notify_arrival: expected true or false")
    extended = data.get("extended_access_s", 0)
    if not isinstance(extended, int) or isinstance(extended, bool) or extended < 0:
        raise ValueError("extended_access_s: expected seconds >= 0")
    _ids(data, "levels")
    _ids(data, "groups")
    return ()


def _check_credential(data: dict[str, Any]) -> tuple[Any, ...]:
    if not isinstance(data.get("person_id"), str) or not data["person_id"]:
        raise ValueError("person_id: expected a non-empty string")
    values = credential_values(
        _opt(data, "kind", str) or "card",
        format=_opt(data, "format", str) or "h10301",
        facility=_opt(data, "facility", int),
        number=_opt(data, "number", int),
        pin_keyed=_opt(data, "pin_digest", str),
        duress_keyed=_opt(data, "duress_digest", str),
        plate=_opt(data, "plate", str),
        code=_opt(data, "code", str),
        status=_opt(data, "status", str) or "active",
        valid_from=_time(data, "valid_from"),
        valid_until=_time(data, "valid_until"),
    )
    return credential_row(values)


def _check_level(data: dict[str, Any]) -> tuple[Any, ...]:
    _opt(data, "name", str)
    _opt(data, "schedule", str)
    _ids(data, "targets")
    return ()


def _check_group(data: dict[str, Any]) -> tuple[Any, ...]:
    _opt(data, "name", str)
    _ids(data, "levels")
    return ()


_CHECKS: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    "access_level": _check_level,
    "group": _check_group,
    "person": _check_person,
    "credential": _check_credential,
}


def parse_changes(records: Any) -> list[Change]:
    """Validate every record of a pulled batch; raise InvalidRecord naming the first bad one."""
    if not isinstance(records, list):
        raise InvalidRecord(-1, None, "expected a list of records")
    out: list[Change] = []
    for i, rec in enumerate(records):
        rid = rec.get("id") if isinstance(rec, dict) else None
        try:
            if not isinstance(rec, dict):
                raise ValueError("expected an object")
            kind, op = rec.get("type"), rec.get("op")
            if kind not in _CHECKS:
                raise ValueError(f"type: expected one of {', '.join(TYPES)}, got {kind!r:.40}")
            if op not in ("upsert", "delete"):
                raise ValueError(f"op: expected 'upsert' or 'delete', got {op!r:.40}")
            if kind == "credential":
                if not isinstance(rid, int) or isinstance(rid, bool):
                    raise ValueError("id: a credential id is an integer")
            elif not isinstance(rid, str) or not rid:
                raise ValueError("id: expected a non-empty string")
            data = rec.get("data") or {}
            if not isinstance(data, dict):
                raise ValueError("data: expected an object")
            row = _CHECKS[kind](data) if op == "upsert" else ()
        except ValueError as exc:
            raise InvalidRecord(i, rid, str(exc)) from None
        out.append(Change(i, kind, op, rid, data, row))
    return out


def _replace_set(
    conn: sqlite3.Connection, table: str, key: str, owner: str, rows: list[Any]
) -> None:
    conn.execute(f"DELETE FROM {table} WHERE {owner} = ?", (key,))
    conn.executemany(f"INSERT INTO {table} VALUES (?, ?)", [(key, r) for r in rows])


def _upsert(conn: sqlite3.Connection, c: Change, now: str) -> None:
    d = c.data
    if c.type == "access_level":
        conn.execute(
            "INSERT INTO access_levels (id, name, schedule) VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET name = excluded.name, schedule = excluded.schedule",
            (c.id, d.get("name") or "", d.get("schedule") or "always"),
        )
        _replace_set(conn, "access_level_targets", str(c.id), "level_id", _ids(d, "targets"))
    elif c.type == "group":
        conn.execute(
            "INSERT INTO groups (id, name) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            (c.id, d.get("name") or ""),
        )
        _replace_set(conn, "group_levels", str(c.id), "group_id", _ids(d, "levels"))
    elif c.type == "person":
        conn.execute(
            "INSERT INTO people (id, name, role, butler_id, notify_arrival, extended_access) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "role = excluded.role, butler_id = excluded.butler_id, "
            "notify_arrival = excluded.notify_arrival, extended_access = excluded.extended_access",
            (
                c.id,
                d.get("name") or "",
                d.get("role", "resident"),
                d.get("butler_id"),
                int(d.get("notify_arrival", False)),
                d.get("extended_access_s", 0),
            ),
        )
        _replace_set(conn, "person_levels", str(c.id), "person_id", _ids(d, "levels"))
        _replace_set(conn, "person_groups", str(c.id), "person_id", _ids(d, "groups"))
    else:
        cur = conn.execute(
            "UPDATE credentials SET kind = ?, format = ?, facility = ?, number = ?, secret = ?, "
            "pin = ?, duress = ?, status = ?, valid_from = ?, valid_until = ?, person_id = ?, "
            "updated_at = ? WHERE hub_id = ?",
            (*c.row, d["person_id"], now, c.id),
        )
        if cur.rowcount == 0:
            conn.execute(
                "INSERT INTO credentials (kind, format, facility, number, secret, pin, duress, "
                "status, valid_from, valid_until, person_id, updated_at, hub_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*c.row, d["person_id"], now, c.id),
            )


def _delete(conn: sqlite3.Connection, c: Change) -> None:
    if c.type == "credential":
        conn.execute("DELETE FROM credentials WHERE hub_id = ?", (c.id,))
    elif c.type == "person":  # move-out: their cards and the visitor passes they host go too
        conn.execute(
            "DELETE FROM credentials WHERE person_id = ? OR id IN "
            "(SELECT credential_id FROM visitor_passes WHERE host_id = ?)",
            (c.id, c.id),
        )
        conn.execute("DELETE FROM antipassback WHERE person_id = ?", (c.id,))
        conn.execute("DELETE FROM people WHERE id = ?", (c.id,))
    elif c.type == "group":
        conn.execute("DELETE FROM groups WHERE id = ?", (c.id,))
    else:
        conn.execute("DELETE FROM access_levels WHERE id = ?", (c.id,))


def _drop_absent(conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
    """For a full resync: remove hub-managed records the snapshot no longer has.

    Credentials created on site (no ``hub_id``) stay, and so do the people holding them or
    hosting a visitor pass.
    """
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS snapshot_keep (type TEXT, id TEXT)")
    conn.execute("DELETE FROM snapshot_keep")
    conn.executemany(
        "INSERT INTO snapshot_keep VALUES (?, ?)", [(c.type, str(c.id)) for c in changes]
    )
    keep = "SELECT id FROM snapshot_keep WHERE type = ?"
    conn.execute(
        f"DELETE FROM credentials WHERE hub_id IS NOT NULL AND CAST(hub_id AS TEXT) NOT IN ({keep})",
        ("credential",),
    )
    conn.execute(
        f"DELETE FROM people WHERE id NOT IN ({keep}) "
        "AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.person_id = people.id) "
        "AND NOT EXISTS (SELECT 1 FROM visitor_passes v WHERE v.host_id = people.id)",
        ("person",),
    )
    conn.execute(f"DELETE FROM groups WHERE id NOT IN ({keep})", ("group",))
    conn.execute(f"DELETE FROM access_levels WHERE id NOT IN ({keep})", ("access_level",))


def write_changes(
    conn: sqlite3.Connection,
    changes: Sequence[Change],
    cursor: int,
    now: datetime,
    *,
    replace: bool = False,
) -> None:
    """Write ``changes`` and the new cursor inside the caller's transaction (the site
    service's ``apply_hub_changes``, which adds the audit event and the revision bump).

    ``replace`` (a full resync) first drops hub-managed records absent from ``changes``. A
    record that breaks a reference (a card for an unknown person, a person in an unknown
    level) or a uniqueness rule (a card number twice) raises InvalidRecord; the caller's
    transaction then rolls back and nothing is written.
    """
    upserts = sorted((c for c in changes if c.op == "upsert"), key=lambda c: _ORDER[c.type])
    deletes = sorted((c for c in changes if c.op == "delete"), key=lambda c: -_ORDER[c.type])
    stamp = now.isoformat()
    if replace:
        _drop_absent(conn, upserts)
    for c in [*deletes, *upserts]:
        try:
            _upsert(conn, c, stamp) if c.op == "upsert" else _delete(conn, c)
        except sqlite3.IntegrityError as exc:
            raise InvalidRecord(c.index, c.id, f"{c.type} {c.op}: {exc}") from None
    kv.put(conn, kv.CHANGES_CURSOR, cursor)
