"""Patrol tours in the store: each tour and the one classification of each checkpoint."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from edgectl.workorders.store import stamp
from rules import patrol as rules


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def insert(conn: sqlite3.Connection, tour: rules.Tour) -> None:
    conn.execute(
        "INSERT INTO patrol_tours (id, route, guard, started_at, started_by, status, "
        "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            tour.id,
            tour.route.id,
            tour.guard,
            stamp(tour.started_at),
            tour.started_by,
            tour.status,
            stamp(tour.last_seen) if tour.last_seen else None,
        ),
    )


def save(conn: sqlite3.Connection, tour: rules.Tour, results: list[rules.CheckpointResult]) -> None:
    """The tour's new state and the checkpoints it has just classified (by the writer)."""
    conn.executemany(
        "INSERT OR IGNORE INTO patrol_checkpoints (tour_id, checkpoint, result, at, "
        "badged_at) VALUES (?, ?, ?, ?, ?)",
        [
            (
                r.tour_id,
                r.checkpoint,
                r.result,
                stamp(r.at),
                stamp(r.badged_at) if r.badged_at else None,
            )
            for r in results
        ],
    )
    conn.execute(
        "UPDATE patrol_tours SET status = ?, last_seen = ?, silence_alarmed = ?, "
        "ended_at = ? WHERE id = ?",
        (
            tour.status,
            stamp(tour.last_seen) if tour.last_seen else None,
            int(tour.silence_alarmed),
            stamp(tour.ended_at) if tour.ended_at else None,
            tour.id,
        ),
    )


def load_active(conn: sqlite3.Connection, routes: Mapping[str, rules.Route]) -> list[rules.Tour]:
    """Active tours of known routes, rebuilt from stored times and classifications."""
    tours = []
    for row in conn.execute("SELECT * FROM patrol_tours WHERE status = 'active'").fetchall():
        route = routes.get(row["route"])
        if route is None:
            continue  # a route removed from config: its tour stays as stored
        classified = {
            cp: result
            for cp, result in conn.execute(
                "SELECT checkpoint, result FROM patrol_checkpoints WHERE tour_id = ?", (row["id"],)
            )
        }
        tours.append(
            rules.Tour(
                id=row["id"],
                route=route,
                guard=row["guard"],
                started_at=datetime.fromisoformat(row["started_at"]),
                started_by=row["started_by"],
                classified=MappingProxyType(classified),
                last_seen=_when(row["last_seen"]),
                silence_alarmed=bool(row["silence_alarmed"]),
            )
        )
    return tours


def incomplete_streak(conn: sqlite3.Connection, route: str) -> int:
    """How many of the route's latest ended tours in a row were incomplete."""
    streak = 0
    for (status,) in conn.execute(
        "SELECT status FROM patrol_tours WHERE route = ? AND status != 'active' "
        "ORDER BY started_at DESC LIMIT 100",
        (route,),
    ):
        if status != rules.INCOMPLETE:
            break
        streak += 1
    return streak


def tours(conn: sqlite3.Connection, since: str, until: str) -> list[dict[str, Any]]:
    """Tours started in ``[since, until)`` (UTC stamps) with their checkpoint results."""
    out = []
    for row in conn.execute(
        "SELECT * FROM patrol_tours WHERE started_at >= ? AND started_at < ? ORDER BY started_at",
        (since, until),
    ).fetchall():
        results = dict(
            conn.execute(
                "SELECT checkpoint, result FROM patrol_checkpoints WHERE tour_id = ?", (row["id"],)
            ).fetchall()
        )
        out.append({k: row[k] for k in row.keys()} | {"checkpoints": results})
    return out
