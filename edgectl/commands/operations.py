"""Work-order and patrol commands: their handlers, on the site's ``Operations``.

The table (``commands/table.py``) lists them with their roles and fields, and runs them
through the one pipeline like every other command. Each handler gets the operations, who is
asking, through which interface, and the validated fields; it answers the result or raises
``Refused`` with a stable code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from edgectl.commands.schema import Refused
from edgectl.operations import Operations
from edgectl.patrol.engine import PatrolError
from edgectl.workorders.engine import NotFound
from rules import patrol as patrol_rules
from rules import workorders as rules

Result = dict[str, Any]
# (operations, who is asking, interface, fields) -> result
OpHandler = Callable[[Operations, str, str, dict[str, Any]], Result]


def run(handler: OpHandler, ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    """Call a handler, turning the engines' refusals into ``Refused`` with a stable code."""
    try:
        return handler(ops, who, interface, p)
    except NotFound as exc:
        raise Refused("not_found", str(exc)) from None
    except (rules.Refused, PatrolError) as exc:
        raise Refused("bad_request", str(exc)) from None


def on_behalf(who: str, p: dict[str, Any]) -> str:
    """The author: the caller, and the person at the desk or the butler if ``as`` names one."""
    by = p.get("as")
    return f"{who}:{by}" if by else who


def order_json(order: rules.Order) -> Result:
    return {
        "order_id": order.id,
        "status": order.status,
        "priority": order.priority,
        "source": order.source,
        "assignee": order.assignee,
        "created_at": order.created_at.isoformat(),
    }


def create(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    default = "operator" if interface == "mqtt" else "butler"
    order = ops.workorders.create(
        title=p["title"],
        priority=p.get("priority", "service"),
        source=p.get("source", default),
        by=on_behalf(who, p),
        channel=interface,
        detail=p.get("detail", ""),
        target=p.get("target"),
        assignee=p.get("assignee"),
        role=p.get("role"),
    )
    return order_json(order)


def transition(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    fix: datetime | None = p.get("estimated_fix_at")
    t = ops.workorders.transition(
        p["order_id"],
        p["status"],
        on_behalf(who, p),
        interface,
        estimated_fix_at=fix,
        verdict=p.get("verdict"),
        note=p.get("note", ""),
    )
    return {"order_id": t.order_id, "status": t.status, "previous": t.previous}


def assign(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    return order_json(ops.workorders.assign(p["order_id"], p["assignee"], who, interface))


def orders(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    listed = sorted(ops.workorders.orders.values(), key=lambda o: o.created_at)
    return {"orders": [order_json(o) for o in listed]}


def tour_json(tour: patrol_rules.Tour) -> Result:
    return {
        "tour_id": tour.id,
        "route": tour.route.id,
        "guard": tour.guard,
        "status": tour.status,
        "started_at": tour.started_at.isoformat(),
        "started_by": tour.started_by,
        "checkpoints": dict(tour.classified),
    }


def patrol_start(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    return tour_json(ops.patrol.start(p["route"], who, p.get("guard"), interface))


def patrol_badge(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    """A guard's handheld read a tag: the guard is the operator sending it."""
    results = ops.patrol.badge(p["checkpoint"], who)
    return {"results": [{"tour_id": x.tour_id, "result": x.result} for x in results]}


def patrol_routes(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    return {
        "routes": [
            {
                "route": s.id,
                "ordered": s.ordered,
                "start": list(s.start),
                "times": list(s.times),
                "checkpoints": [c.id for c in s.checkpoints],
            }
            for s in ops.config.patrol.routes
        ]
    }


def patrol_tours(ops: Operations, who: str, interface: str, p: dict[str, Any]) -> Result:
    return {"tours": [tour_json(t) for t in ops.patrol.tours.values()]}
