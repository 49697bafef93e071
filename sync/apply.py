"""Apply pulled people, credential and access-level changes: validate all, then one transaction.

A pulled batch is a list of records ``{"cursor", "type", "op", "id", "data"}`` with ``type``
one of ``person``, ``credential``, ``access_level`` and ``op`` ``upsert`` or ``delete``
(revoking a card is an upsert with ``status: "revoked"``). ``parse_changes`` checks every
record first; ``apply_changes`` then writes them, and the new cursor, in ONE transaction.
One bad record, whether malformed or breaking a reference, means nothing is applied and
``InvalidRecord`` names it. The caller then refreshes whatever in-memory index it keeps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.store import kv

CREDENTIAL_KINDS = frozenset({"card", "pin", "card_pin", "plate", "qr"})
CREDENTIAL_STATUSES = frozenset({"active", "revoked", "suspended", "lost", "expired"})
_ORDER = {
    "access_level": 0,
    "person": 1,
    "credential": 2,
}  # upserts in this order, deletes reversed


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


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: expected a string or null")
    return value


def _opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"{key}: expected an integer or null")
    return value


def _opt_time(data: dict[str, Any], key: str) -> str | None:
    value = _opt_str(data, key)
    if value is not None:
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{key}: not an ISO 8601 time: {value!r}") from None
        if stamp.tzinfo is None:
            raise ValueError(f"{key}: time has no timezone: {value!r}")
    return value


def _str_list(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key}: expected a list of non-empty strings")
    return value


def _check_person(data: dict[str, Any]) -> None:
    for key in ("name", "role", "butler_id"):
        _opt_str(data, key)
    for key in ("notify_arrival", "extended_access"):
        if not isinstance(data.get(key, False), bool):
            raise ValueError(f"{key}: expected true or false")
    _str_list(data, "levels")


def _check_credential(data: dict[str, Any]) -> None:
    if data.get("kind", "card") not in CREDENTIAL_KINDS:
        raise ValueError(f"kind: expected one of {sorted(CREDENTIAL_KINDS)}")
    if data.get("status", "active") not in CREDENTIAL_STATUSES:
        raise ValueError(f"status: expected one of {sorted(CREDENTIAL_STATUSES)}")
    if not isinstance(data.get("person_id"), str) or not data["person_id"]:
        raise ValueError("person_id: expected a non-empty string")
    _opt_int(data, "facility")
    _opt_int(data, "number")
    _opt_str(data, "format")
    _opt_str(data, "secret")
    if _opt_int(data, "number") is None and _opt_str(data, "secret") is None:
        raise ValueError("a credential needs a number or a secret")
    lo, hi = _opt_time(data, "valid_from"), _opt_time(data, "valid_until")
    if lo and hi and datetime.fromisoformat(lo) >= datetime.fromisoformat(hi):
        raise ValueError("valid_from must be before valid_until")


def _check_level(data: dict[str, Any]) -> None:
    _opt_str(data, "name")
    _opt_str(data, "schedule")
    _str_list(data, "targets")


_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "person": _check_person,
    "credential": _check_credential,
    "access_level": _check_level,
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
                raise ValueError(f"type: expected one of {sorted(_CHECKS)}, got {kind!r}")
            if op not in ("upsert", "delete"):
                raise ValueError(f"op: expected 'upsert' or 'delete', got {op!r}")
            if kind == "credential":
                if not isinstance(rid, int) or isinstance(rid, bool):
                    raise ValueError("id: a credential id is an integer")
            elif not isinstance(rid, str) or not rid:
                raise ValueError("id: expected a non-empty string")
            data = rec.get("data") or {}
            if not isinstance(data, dict):
                raise ValueError("data: expected an object")
            if op == "upsert":
                _CHECKS[kind](data)
        except ValueError as exc:
            raise InvalidRecord(i, rid, str(exc)) from None
        out.append(Change(i, kind, op, rid, data))
    return out


def _upsert(conn: sqlite3.Connection, c: Change, now: str) -> None:
    d = c.data
    if c.type == "access_level":
        conn.execute(
            "INSERT INTO access_levels (id, name, schedule) VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET name = excluded.name, schedule = excluded.schedule",
            (c.id, d.get("name") or "", d.get("schedule") or "always"),
        )
        conn.execute("DELETE FROM access_level_targets WHERE level_id = ?", (c.id,))
        conn.executemany(
            "INSERT INTO access_level_targets (level_id, target) VALUES (?, ?)",
            [(c.id, t) for t in dict.fromkeys(d.get("targets", []))],
        )
    elif c.type == "person":
        conn.execute(
            "INSERT INTO people (id, name, role, butler_id, notify_arrival, extended_access) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "role = excluded.role, butler_id = excluded.butler_id, "
            "notify_arrival = excluded.notify_arrival, extended_access = excluded.extended_access",
            (
                c.id,
                d.get("name") or "",
                d.get("role") or "resident",
                d.get("butler_id"),
                int(d.get("notify_arrival", False)),
                int(d.get("extended_access", False)),
            ),
        )
        conn.execute("DELETE FROM person_levels WHERE person_id = ?", (c.id,))
        conn.executemany(
            "INSERT INTO person_levels (person_id, level_id) VALUES (?, ?)",
            [(c.id, lv) for lv in dict.fromkeys(d.get("levels", []))],
        )
    else:
        conn.execute(
            "INSERT INTO credentials (id, kind, format, facility, number, secret, person_id, "
            "status, valid_from, valid_until, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, format = excluded.format, "
            "facility = excluded.facility, number = excluded.number, secret = excluded.secret, "
            "person_id = excluded.person_id, status = excluded.status, "
            "valid_from = excluded.valid_from, valid_until = excluded.valid_until, "
            "updated_at = excluded.updated_at",
            (
                c.id,
                d.get("kind", "card"),
                d.get("format") or "",
                d.get("facility"),
                d.get("number"),
                d.get("secret"),
                d["person_id"],
                d.get("status", "active"),
                d.get("valid_from"),
                d.get("valid_until"),
                d.get("updated_at") or now,
            ),
        )


def _delete(conn: sqlite3.Connection, c: Change) -> None:
    if c.type == "credential":
        conn.execute("DELETE FROM credentials WHERE id = ?", (c.id,))
    elif c.type == "person":
        conn.execute("DELETE FROM credentials WHERE person_id = ?", (c.id,))
        conn.execute("DELETE FROM people WHERE id = ?", (c.id,))
    else:
        conn.execute("DELETE FROM access_levels WHERE id = ?", (c.id,))


def apply_changes(
    conn: sqlite3.Connection,
    changes: Sequence[Change],
    cursor: int,
    now: datetime,
    *,
    replace: bool = False,
) -> None:
    """Write ``changes`` and the new cursor in one transaction (all or nothing).

    ``replace`` (a full resync) first clears people, credentials and access levels, so the
    snapshot becomes the whole truth. A record that breaks a reference (a card for an
    unknown person, a person in an unknown level) raises InvalidRecord; nothing is written.
    """
    upserts = sorted((c for c in changes if c.op == "upsert"), key=lambda c: _ORDER[c.type])
    deletes = sorted((c for c in changes if c.op == "delete"), key=lambda c: -_ORDER[c.type])
    stamp = now.isoformat()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if replace:
            for table in ("credentials", "person_levels", "people", "access_level_targets"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM access_levels")
        for c in [*deletes, *upserts]:
            try:
                _upsert(conn, c, stamp) if c.op == "upsert" else _delete(conn, c)
            except sqlite3.IntegrityError as exc:
                raise InvalidRecord(c.index, c.id, f"{c.type} {c.op}: {exc}") from None
        kv.put(conn, kv.CHANGES_CURSOR, cursor)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
