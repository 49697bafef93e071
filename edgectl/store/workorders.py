"""Work orders on the site: pulled from the hub, worked on site, status pushed back.

The hub creates a work order with a response and a completion deadline (DOMAIN.md: 15
minutes for service requests, 30 for emergencies). The site keeps the latest copy in
``work_orders``; every local status change is a row in ``work_order_updates`` (written by
the work-order engine, ``edgectl/workorders/store.py``) that the sync client pushes until
the hub has it. Pushes carry ``update_id = "<site>:<row id>"``, so the
hub applies each at most once however often it is retried.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PRIORITIES = {"service": timedelta(minutes=15), "emergency": timedelta(minutes=30)}
STATUSES = ("open", "acknowledged", "on_site", "done", "closed", "cancelled")
_FIELDS = ("id", "kind", "priority", "title", "status", "created_at", "respond_by", "complete_by")


class WorkOrderError(ValueError):
    """A work order or a status change is invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class Update:
    row_id: int
    order_id: str
    status: str
    at: str
    by: str
    note: str


def validate_order(doc: Any) -> dict[str, Any]:
    """Check a pulled work order; return it or raise WorkOrderError."""
    if not isinstance(doc, dict):
        raise WorkOrderError("work order: expected an object")
    for key in _FIELDS:
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise WorkOrderError(f"work order {doc.get('id')!r}: {key}: expected a string")
    if doc["priority"] not in PRIORITIES:
        raise WorkOrderError(f"work order {doc['id']!r}: priority: expected {sorted(PRIORITIES)}")
    if doc["status"] not in STATUSES:
        raise WorkOrderError(f"work order {doc['id']!r}: status: expected one of {STATUSES}")
    for key in ("created_at", "respond_by", "complete_by"):
        try:
            if datetime.fromisoformat(doc[key]).tzinfo is None:
                raise ValueError
        except ValueError:
            raise WorkOrderError(f"work order {doc['id']!r}: {key}: not a UTC time") from None
    return doc


def store_orders(conn: sqlite3.Connection, orders: Sequence[dict[str, Any]]) -> None:
    """Upsert pulled orders (in the caller's transaction). A local status not yet pushed wins."""
    conn.executemany(
        "INSERT INTO work_orders (id, kind, priority, title, detail, target, assignee, status, "
        "created_at, respond_by, complete_by, updated_at) "
        "VALUES (:id, :kind, :priority, :title, :detail, :target, :assignee, :status, "
        ":created_at, :respond_by, :complete_by, :updated_at) "
        "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, priority = excluded.priority, "
        "title = excluded.title, detail = excluded.detail, target = excluded.target, "
        "assignee = excluded.assignee, respond_by = excluded.respond_by, "
        "complete_by = excluded.complete_by, updated_at = excluded.updated_at, "
        "status = CASE WHEN EXISTS (SELECT 1 FROM work_order_updates u "
        "WHERE u.order_id = excluded.id AND u.pushed_at IS NULL) "
        "THEN work_orders.status ELSE excluded.status END",
        [
            {
                "detail": "",
                "target": None,
                "assignee": None,
                **o,
                "updated_at": o.get("updated_at") or o["created_at"],
            }
            for o in orders
        ],
    )


def unpushed(conn: sqlite3.Connection, limit: int = 100) -> list[Update]:
    rows = conn.execute(
        "SELECT id, order_id, status, at, by, note FROM work_order_updates "
        "WHERE pushed_at IS NULL ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    return [Update(*tuple(r)) for r in rows]


def mark_pushed(
    conn: sqlite3.Connection, row_id: int, at: datetime, rejected: str | None = None
) -> None:
    """The hub has the update (or refused it for good, with ``rejected`` as the reason)."""
    conn.execute(
        "UPDATE work_order_updates SET pushed_at = ?, rejected = ? WHERE id = ?",
        (at.isoformat(), rejected, row_id),
    )


def missed_deadlines(order: dict[str, Any], now: datetime) -> list[str]:
    """Which deadlines an order has missed at ``now``: 'response' and/or 'completion'."""
    missed = []
    if order["status"] == "open" and now > datetime.fromisoformat(order["respond_by"]):
        missed.append("response")
    if order["status"] not in ("done", "closed", "cancelled") and now > datetime.fromisoformat(
        order["complete_by"]
    ):
        missed.append("completion")
    return missed
