"""Work orders in the store: the order rows, their transitions and the escalations sent.

``work_order_updates`` is the log of every transition (who, when, through which channel);
the sync client pushes it to the hub in order. The writing functions run on the store
writer's thread, inside its transaction (``edgectl/store/writer.py``). ``load_open``
rebuilds the rules' ``Order`` of every open order from these stored times, so deadlines
after a restart are the same as before it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from rules import workorders as rules

# statuses the hub used before the site kept the lifecycle (edgectl/store/workorders.py)
LEGACY = MappingProxyType({"open": "new", "acknowledged": "accepted", "closed": "followed_up"})


def status_of(stored: str) -> str:
    return LEGACY.get(stored, stored)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class NewOrder:
    id: str
    title: str
    priority: str
    source: str
    created_at: datetime
    respond_by: datetime
    complete_by: datetime
    detail: str = ""
    target: str | None = None
    assignee: str | None = None
    role: str | None = None
    fault_key: str | None = None


def insert(conn: sqlite3.Connection, order: NewOrder, by: str, channel: str) -> None:
    conn.execute(
        "INSERT INTO work_orders (id, kind, priority, title, detail, target, assignee, "
        "status, created_at, respond_by, complete_by, updated_at, source, role, fault_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?)",
        (
            order.id,
            "fault" if order.fault_key else "request",
            order.priority,
            order.title,
            order.detail,
            order.target,
            order.assignee,
            stamp(order.created_at),
            stamp(order.respond_by),
            stamp(order.complete_by),
            stamp(order.created_at),
            order.source,
            order.role,
            order.fault_key,
        ),
    )
    _log(conn, rules.Transition(order.id, "new", "", by, order.created_at), channel)


def _log(conn: sqlite3.Connection, t: rules.Transition, channel: str) -> int:
    cur = conn.execute(
        "INSERT INTO work_order_updates (order_id, status, at, by, note, channel, "
        "estimated_fix_at, verdict) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            t.order_id,
            t.status,
            stamp(t.at),
            t.by,
            t.note,
            channel,
            stamp(t.estimated_fix_at) if t.estimated_fix_at else None,
            t.verdict,
        ),
    )
    return int(cur.lastrowid or 0)


def record(conn: sqlite3.Connection, t: rules.Transition, channel: str) -> int:
    """Store a transition and the order's new status; a reopen restarts its clock."""
    row = _log(conn, t, channel)
    if t.status == rules.NEW:  # reopened: a fresh clock, escalations start over
        conn.execute(
            "UPDATE work_orders SET status = 'new', created_at = ?, updated_at = ? WHERE id = ?",
            (stamp(t.at), stamp(t.at), t.order_id),
        )
        conn.execute("DELETE FROM work_order_escalations WHERE order_id = ?", (t.order_id,))
    else:
        conn.execute(
            "UPDATE work_orders SET status = ?, updated_at = ? WHERE id = ?",
            (t.status, stamp(t.at), t.order_id),
        )
    return row


def assign(conn: sqlite3.Connection, order_id: str, assignee: str, at: datetime) -> None:
    conn.execute(
        "UPDATE work_orders SET assignee = ?, updated_at = ? WHERE id = ?",
        (assignee, stamp(at), order_id),
    )


def escalated(conn: sqlite3.Connection, notices: tuple[rules.Overdue, ...]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO work_order_escalations (order_id, stage, level, at, to_staff) "
        "VALUES (?, ?, ?, ?, ?)",
        [(n.order_id, n.stage, n.level, stamp(n.at), n.to) for n in notices],
    )


def _order(
    row: sqlite3.Row, reached: dict[str, datetime], sent: set[tuple[str, int]]
) -> rules.Order:
    return rules.Order(
        id=row["id"],
        priority=row["priority"],
        source=row["source"],
        created_at=datetime.fromisoformat(row["created_at"]),
        status=status_of(row["status"]),
        assignee=row["assignee"],
        reached=MappingProxyType(reached),
        escalated=frozenset(sent),
    )


def _load(conn: sqlite3.Connection, where: str, params: tuple[str, ...]) -> list[rules.Order]:
    rows = conn.execute(f"SELECT * FROM work_orders o WHERE {where}", params).fetchall()
    reached: dict[str, dict[str, datetime]] = {r["id"]: {} for r in rows}
    for order_id, status, at in conn.execute(
        "SELECT u.order_id, u.status, u.at FROM work_order_updates u "
        f"JOIN work_orders o ON o.id = u.order_id WHERE {where} ORDER BY u.id",
        params,
    ):
        times = reached[order_id]
        if status == rules.NEW:
            times.clear()  # a reopen starts the stages over
        else:
            times[status_of(status)] = datetime.fromisoformat(at)
    sent: dict[str, set[tuple[str, int]]] = {r["id"]: set() for r in rows}
    for order_id, stage, level in conn.execute(
        "SELECT e.order_id, e.stage, e.level FROM work_order_escalations e "
        f"JOIN work_orders o ON o.id = e.order_id WHERE {where}",
        params,
    ):
        sent[order_id].add((stage, level))
    return [_order(r, reached[r["id"]], sent[r["id"]]) for r in rows]


def load_open(conn: sqlite3.Connection) -> list[rules.Order]:
    """Every open order as the rules see it, from the stored times."""
    return _load(conn, "o.status NOT IN ('followed_up', 'cancelled', 'closed')", ())


def load_ids(conn: sqlite3.Connection, ids: list[str]) -> list[rules.Order]:
    """These orders (any status) as the rules see them."""
    if not ids:
        return []
    return _load(conn, f"o.id IN ({','.join('?' * len(ids))})", tuple(ids))


def load_period(conn: sqlite3.Connection, since: datetime, until: datetime) -> list[rules.Order]:
    """Orders created in ``[since, until)`` or done in it (for the daily report)."""
    where = (
        "(o.created_at >= ? AND o.created_at < ?) OR o.id IN (SELECT order_id FROM "
        "work_order_updates WHERE status = 'done' AND at >= ? AND at < ?)"
    )
    a, b = stamp(since), stamp(until)
    return _load(conn, f"({where})", (a, b, a, b))


def fault_orders(conn: sqlite3.Connection, since: datetime) -> dict[str, rules.Order]:
    """The latest order of each fault key that is open or changed since ``since``."""
    where = (
        "o.fault_key IS NOT NULL AND (o.status NOT IN ('done', 'followed_up', 'cancelled', "
        "'closed') OR o.updated_at >= ?)"
    )
    keys = dict(
        conn.execute(
            f"SELECT o.id, o.fault_key FROM work_orders o WHERE {where}", (stamp(since),)
        ).fetchall()
    )
    latest: dict[str, rules.Order] = {}
    for order in sorted(_load(conn, where, (stamp(since),)), key=lambda o: o.created_at):
        latest[keys[order.id]] = order
    return latest


def get(conn: sqlite3.Connection, order_id: str) -> dict[str, object] | None:
    row = conn.execute("SELECT * FROM work_orders WHERE id = ?", (order_id,)).fetchone()
    return {k: row[k] for k in row.keys()} if row else None
