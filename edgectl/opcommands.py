"""Operator commands for work orders and patrols, the same for every transport.

MQTT (``edgectl/mqtt/commands.py``) and the local control API (the CLI) both look commands
up here: a role, a payload schema, and a handler that calls the site's ``Operations``
with who is asking and through which channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.mqtt.auth import Role
from edgectl.mqtt.payloads import Field, Refused, Schema, text, timestamp
from edgectl.operations import Operations
from edgectl.patrol.engine import PatrolError
from edgectl.workorders.engine import NotFound
from rules import patrol as patrol_rules
from rules import workorders as rules

Result = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    ops: Operations
    operator: str
    channel: str  # mqtt, cli
    params: dict[str, Any]


Handler = Callable[[Request], Result]


@dataclass(frozen=True, slots=True)
class OpSpec:
    role: Role
    schema: Schema
    handler: Handler


def run(spec: OpSpec, request: Request) -> Result:
    """Call a handler, turning the engines' refusals into ``Refused`` with a stable code."""
    try:
        return spec.handler(request)
    except NotFound as exc:
        raise Refused("not_found", str(exc)) from None
    except (rules.Refused, PatrolError) as exc:
        raise Refused("bad_request", str(exc)) from None


def order_json(order: rules.Order) -> Result:
    return {
        "order_id": order.id,
        "status": order.status,
        "priority": order.priority,
        "source": order.source,
        "assignee": order.assignee,
        "created_at": order.created_at.isoformat(),
    }


def _create(r: Request) -> Result:
    p = r.params
    default = "operator" if r.channel == "mqtt" else "butler"
    order = r.ops.workorders.create(
        title=p["title"],
        priority=p.get("priority", "service"),
        source=p.get("source", default),
        by=r.operator,
        channel=r.channel,
        detail=p.get("detail", ""),
        target=p.get("target"),
        assignee=p.get("assignee"),
        role=p.get("role"),
    )
    return order_json(order)


def _transition(r: Request) -> Result:
    p = r.params
    fix: datetime | None = p.get("estimated_fix_at")
    t = r.ops.workorders.transition(
        p["order_id"],
        p["status"],
        r.operator,
        r.channel,
        estimated_fix_at=fix,
        verdict=p.get("verdict"),
        note=p.get("note", ""),
    )
    return {"order_id": t.order_id, "status": t.status, "previous": t.previous}


def _assign(r: Request) -> Result:
    order = r.ops.workorders.assign(
        r.params["order_id"], r.params["assignee"], r.operator, r.channel
    )
    return order_json(order)


def _orders(r: Request) -> Result:
    orders = sorted(r.ops.workorders.orders.values(), key=lambda o: o.created_at)
    return {"orders": [order_json(o) for o in orders]}


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


def _patrol_start(r: Request) -> Result:
    tour = r.ops.patrol.start(r.params["route"], r.operator, r.params.get("guard"), r.channel)
    return tour_json(tour)


def _patrol_badge(r: Request) -> Result:
    """A guard's handheld read a tag: the guard is the operator sending it."""
    results = r.ops.patrol.badge(r.params["checkpoint"], r.operator)
    return {"results": [{"tour_id": x.tour_id, "result": x.result} for x in results]}


def _patrol_routes(r: Request) -> Result:
    return {
        "routes": [
            {
                "route": s.id,
                "ordered": s.ordered,
                "start": list(s.start),
                "times": list(s.times),
                "checkpoints": [c.id for c in s.checkpoints],
            }
            for s in r.ops.config.patrol.routes
        ]
    }


def _patrol_tours(r: Request) -> Result:
    return {"tours": [tour_json(t) for t in r.ops.patrol.tours.values()]}


ORDER: Schema = {"order_id": Field(text(64))}
NOTHING: Schema = {}

OPS: dict[str, OpSpec] = {
    "workorder/create": OpSpec(
        Role.GUARD,
        {
            "title": Field(text(200)),
            "priority": Field(text(32), False),
            "source": Field(text(16), False),
            "detail": Field(text(2000), False),
            "target": Field(text(64), False),
            "assignee": Field(text(64), False),
            "role": Field(text(32), False),
        },
        _create,
    ),
    "workorder/transition": OpSpec(
        Role.GUARD,
        {
            **ORDER,
            "status": Field(text(32)),
            "estimated_fix_at": Field(timestamp, False),
            "verdict": Field(text(32), False),
            "note": Field(text(1000), False),
        },
        _transition,
    ),
    "workorder/assign": OpSpec(Role.OPERATOR, {**ORDER, "assignee": Field(text(64))}, _assign),
    "workorder/list": OpSpec(Role.VIEWER, NOTHING, _orders),
    "patrol/start": OpSpec(
        Role.OPERATOR, {"route": Field(text(64)), "guard": Field(text(64), False)}, _patrol_start
    ),
    "patrol/badge": OpSpec(Role.GUARD, {"checkpoint": Field(text(64))}, _patrol_badge),
    "patrol/routes": OpSpec(Role.VIEWER, NOTHING, _patrol_routes),
    "patrol/tours": OpSpec(Role.VIEWER, NOTHING, _patrol_tours),
}
# the status command operators used before the site kept the lifecycle
OPS["workorder/status"] = OpSpec(Role.GUARD, OPS["workorder/transition"].schema, _transition)
