"""Availability figures read from the journal: exact, and the same whenever computed.

A device's day starts from the state the day before ended in (stored in
``facility_days``), or else from its last online/offline and fault events before the day.
A device never heard from counts as not in service until its first report.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from edgectl.workorders.store import stamp
from rules.availability import Availability, Change, Status, compute
from rules.schedule import day_bounds

ONLINE_KINDS = ("device_online", "device_offline", "gate_state")
FAULT_KINDS = ("gate_state", "camera_fault")
KINDS = tuple(sorted({*ONLINE_KINDS, *FAULT_KINDS}))


def change_of(kind: str, body: dict[str, object], at: datetime) -> Change | None:
    """What an event says about a device's state, or None if nothing."""
    if kind == "device_online":
        return Change(at, online=True)
    if kind == "device_offline":
        return Change(at, online=False)
    if kind == "gate_state":
        state = body.get("state")
        return Change(at, online=True, fault=None if state == "unknown" else state == "fault")
    if kind == "camera_fault":  # the camera family's health check; ``active`` false: over
        return Change(at, fault=bool(body.get("active", True)))
    return None


def _changes(rows: Iterable[tuple[str, str, str]]) -> list[Change]:
    out = []
    for at, kind, body in rows:
        change = change_of(kind, json.loads(body), datetime.fromisoformat(at))
        if change is not None:
            out.append(change)
    return out


def devices_seen(conn: sqlite3.Connection, before: datetime) -> set[str]:
    marks = ",".join("?" * len(KINDS))
    rows = conn.execute(
        f"SELECT DISTINCT source FROM journal WHERE kind IN ({marks}) AND at < ?",
        (*KINDS, stamp(before)),
    )
    return {r[0] for r in rows}


def _initial(conn: sqlite3.Connection, device: str, day: date, start: datetime) -> Status:
    prev = conn.execute(
        "SELECT final_online, final_fault FROM facility_days WHERE device = ? AND day = ?",
        (device, (day - timedelta(days=1)).isoformat()),
    ).fetchone()
    if prev is not None:
        return Status(bool(prev[0]), bool(prev[1]))
    status = Status()
    for kinds in (ONLINE_KINDS, FAULT_KINDS):
        marks = ",".join("?" * len(kinds))
        rows = conn.execute(
            f"SELECT at, kind, body FROM journal WHERE source = ? AND kind IN ({marks}) "
            "AND at < ? ORDER BY seq DESC LIMIT 1",
            (device, *kinds, stamp(start)),
        ).fetchall()
        for change in _changes(rows):
            if kinds is ONLINE_KINDS and change.online is not None:
                status = Status(change.online, status.fault)
            elif kinds is FAULT_KINDS and change.fault is not None:
                status = Status(status.online, change.fault)
    return status


def device_day(conn: sqlite3.Connection, device: str, day: date, zone: ZoneInfo) -> Availability:
    start, end = day_bounds(day, zone)
    marks = ",".join("?" * len(KINDS))
    rows = conn.execute(
        f"SELECT at, kind, body FROM journal WHERE source = ? AND kind IN ({marks}) "
        "AND at >= ? AND at < ? ORDER BY seq",
        (device, *KINDS, stamp(start), stamp(end)),
    ).fetchall()
    return compute(_initial(conn, device, day, start), _changes(rows), start, end)


def store_day(conn: sqlite3.Connection, device: str, day: date, a: Availability) -> None:
    conn.execute(
        "INSERT INTO facility_days (device, day, up_s, total_s, outages, final_online, "
        "final_fault) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, day) DO UPDATE SET "
        "up_s = excluded.up_s, total_s = excluded.total_s, outages = excluded.outages, "
        "final_online = excluded.final_online, final_fault = excluded.final_fault",
        (
            device,
            day.isoformat(),
            a.up_s,
            (a.end - a.start).total_seconds(),
            len(a.outages),
            int(a.final.online),
            int(a.final.fault),
        ),
    )


def window_share(conn: sqlite3.Connection, device: str, last_day: date, days: int) -> float:
    """The share over the ``days`` stored days up to ``last_day`` (1.0 if none)."""
    first = last_day - timedelta(days=days - 1)
    row = conn.execute(
        "SELECT SUM(up_s), SUM(total_s) FROM facility_days WHERE device = ? AND day >= ? "
        "AND day <= ?",
        (device, first.isoformat(), last_day.isoformat()),
    ).fetchone()
    return float(row[0]) / float(row[1]) if row and row[1] else 1.0


def stored(conn: sqlite3.Connection, day: date) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM facility_days WHERE day = ? ORDER BY device", (day.isoformat(),)
    ).fetchall()
