"""Reads of site data for the operator CLI: levels, people, visitor passes.

Only reads: every change goes through ``SiteService``. Nothing here returns a PIN, a PIN
digest or a visitor code; credentials are named by ``label`` (a card's number, a plate,
or just the kind).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from edgectl.config import Config
from edgectl.store import calendar
from edgectl.store.credentials import find_card
from rules.access import CARD_KINDS
from rules.schedule import DAYS, format_window
from rules.settings import Schedule

BUILT_IN = (("always", "open at all times"), ("never", "closed at all times"))


def _label(kind: str, facility: int | None, number: int | None, secret: str | None) -> str:
    if kind in CARD_KINDS:
        card = number if facility is None else f"{facility}:{number}"
        return f"card {card}" if kind == "card" else f"card {card} + PIN"
    if kind == "plate":
        return f"plate {secret}"
    return kind  # pin, visitor: never the code or its digest


def levels(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every access level: its targets, schedule and how many people hold it."""
    targets: dict[str, list[str]] = {}
    for level_id, target in conn.execute(
        "SELECT level_id, target FROM access_level_targets ORDER BY level_id, target"
    ):
        targets.setdefault(level_id, []).append(target)
    rows = conn.execute(
        "SELECT l.id, l.name, l.schedule, (SELECT count(*) FROM person_levels p "
        "WHERE p.level_id = l.id) FROM access_levels l ORDER BY l.id"
    ).fetchall()
    return [
        {
            "id": r[0],
            "name": r[1],
            "schedule": r[2],
            "targets": targets.get(r[0], []),
            "people": r[3],
        }
        for r in rows
    ]


def schedules(conn: sqlite3.Connection, config: Config) -> list[dict[str, Any]]:
    """Built-in schedules, then the config's, then those kept as site data (by id)."""
    built_in = [{"id": i, "name": name, "source": "built in"} for i, name in BUILT_IN]
    return built_in + [
        _schedule(s, source)
        for source, found in (
            ("config", config.access.schedules),
            ("site", calendar.schedules(conn)),
        )
        for s in found
    ]


def _schedule(s: Schedule, source: str) -> dict[str, Any]:
    return (
        {"id": s.id, "name": s.name, "source": source}
        | {"windows": [format_window(w) for w in s.windows()]}
        | {day: list(getattr(s, day)) for day in DAYS}
        | {"holidays": {h.type: list(h.segments) for h in s.holidays}}
    )


def holidays(conn: sqlite3.Connection, config: Config) -> list[dict[str, Any]]:
    """The config's holidays and those kept as site data, by date."""
    found = [(h, "", "config") for h in config.access.holidays]
    found += [(h, name, "site") for h, name in calendar.holidays(conn)]
    return [
        {"date": h.date, "type": h.type, "name": name, "source": source}
        for h, name, source in sorted(found, key=lambda item: item[0].date)
    ]


def people(conn: sqlite3.Connection, role: str = "") -> list[dict[str, Any]]:
    """Everyone but visitors (``visitors`` lists those): levels and active credentials."""
    held = _person_levels(conn)
    where, args = ("AND p.role = ?", (role,)) if role else ("", ())
    rows = conn.execute(
        "SELECT p.id, p.name, p.role, (SELECT count(*) FROM credentials c WHERE "
        "c.person_id = p.id AND c.status = 'active') FROM people p "
        f"WHERE p.role != 'visitor' {where} ORDER BY p.id",
        args,
    ).fetchall()
    return [
        {"id": r[0], "name": r[1], "role": r[2], "levels": held.get(r[0], []), "active": r[3]}
        for r in rows
    ]


def _person_levels(conn: sqlite3.Connection, person_id: str | None = None) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    where, args = ("WHERE person_id = ?", (person_id,)) if person_id else ("", ())
    for pid, level in conn.execute(
        f"SELECT person_id, level_id FROM person_levels {where} ORDER BY level_id", args
    ):
        held.setdefault(pid, []).append(level)
    return held


def person(conn: sqlite3.Connection, person_id: str) -> dict[str, Any] | None:
    """One person: details, levels, groups, credentials and the visitor passes they host."""
    row = conn.execute(
        "SELECT id, name, role FROM people WHERE id = ? AND role != 'visitor'", (person_id,)
    ).fetchone()
    if row is None:
        return None
    creds = [
        {
            "id": c[0],
            "credential": _label(c[1], c[2], c[3], c[4]),
            "status": c[5],
            "valid_from": c[6],
            "valid_until": c[7],
        }
        for c in conn.execute(
            "SELECT id, kind, facility, number, secret, status, valid_from, valid_until "
            "FROM credentials WHERE person_id = ? ORDER BY id",
            (person_id,),
        )
    ]
    groups = [
        g[0]
        for g in conn.execute(
            "SELECT group_id FROM person_groups WHERE person_id = ? ORDER BY group_id",
            (person_id,),
        )
    ]
    return {
        "id": row[0],
        "name": row[1],
        "role": row[2],
        "levels": _person_levels(conn, person_id).get(person_id, []),
        "groups": groups,
        "credentials": creds,
        "visitors": visitors(conn, host=person_id, include_ended=True),
    }


def visitors(
    conn: sqlite3.Connection, host: str = "", *, include_ended: bool = False
) -> list[dict[str, Any]]:
    """Visitor passes (newest first): who, host, until, gates, uses, status; no code."""
    where = ["1"]
    args: list[object] = []
    if host:
        where.append("v.host_id = ?")
        args.append(host)
    if not include_ended:
        where.append("c.status = 'active'")
    rows = conn.execute(
        "SELECT c.id, p.name, v.host_id, c.valid_until, v.targets, v.uses, v.max_uses, "
        "c.status FROM visitor_passes v JOIN credentials c ON c.id = v.credential_id "
        f"JOIN people p ON p.id = c.person_id WHERE {' AND '.join(where)} ORDER BY c.id DESC",
        args,
    ).fetchall()
    return [
        {
            "id": r[0],
            "visitor": r[1],
            "host": r[2],
            "until": r[3],
            "targets": r[4].split(",") if r[4] else [],
            "uses": r[5],
            "max_uses": r[6],
            "status": r[7],
        }
        for r in rows
    ]


def card_holder(conn: sqlite3.Connection, facility: int | None, number: int) -> str | None:
    """Who holds card ``facility:number`` (any status), if anyone."""
    cred_id = find_card(conn, facility, number)
    if cred_id is None:
        return None
    row = conn.execute("SELECT person_id FROM credentials WHERE id = ?", (cred_id,)).fetchone()
    return str(row[0])
