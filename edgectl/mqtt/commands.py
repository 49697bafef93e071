"""The operator command set: ``noun/verb`` -> role, payload schema and handler.

To add a device family (cameras, intercoms), add its handlers and entries to ``COMMANDS``;
topics, authorisation, replay checks, journaling and replies need no change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from drivers.base import DeviceError
from edgectl.config import Config
from edgectl.devices import DeviceRegistry
from edgectl.domain import CloseGate, Command, HoldRelay, OpenGate, PulseRelay, StopGate
from edgectl.mqtt.auth import Role
from edgectl.mqtt.payloads import (
    Field,
    Refused,
    Schema,
    integer,
    number,
    text,
    text_list,
    timestamp,
)
from edgectl.mqtt.policy import AccessOps, Invalid, NotFound
from edgectl.opcommands import OPS, OpSpec, Request
from edgectl.opcommands import run as run_operation
from edgectl.operations import Operations
from edgectl.router import Router
from edgectl.store.db import connect
from edgectl.store.journal import last_entries

DEVICE_TIMEOUT_S = 5.0
T = TypeVar("T")
MAX_EVENTS = 200


@dataclass
class Context:
    config: Config
    router: Router
    devices: DeviceRegistry
    ops: AccessOps
    operator: str
    now: datetime
    operations: Operations | None = None


Result = dict[str, Any]
Handler = Callable[[Context, dict[str, Any]], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Spec:
    role: Role
    schema: Schema
    handler: Handler


# --- devices ---------------------------------------------------------------------------


def _device(ctx: Context, target: str, kind: str) -> str:
    view = ctx.devices.views.get(target)
    if view is None or view.kind != kind:
        known = sorted(v.id for v in ctx.devices.views.values() if v.kind == kind)
        raise Refused("unknown_device", f"no {kind} {target!r}; known: {known}")
    return target


async def _actuate(ctx: Context, command: Command) -> Result:
    try:
        async with asyncio.timeout(DEVICE_TIMEOUT_S):
            await ctx.router.execute(command)
    except DeviceError as exc:
        raise Refused("device_error", str(exc)) from None
    except TimeoutError:
        raise Refused(
            "device_timeout", f"{command.target} did not answer in {DEVICE_TIMEOUT_S}s"
        ) from None
    return {"target": command.target}


def _gate(make: Callable[[str], Command]) -> Handler:
    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        return await _actuate(ctx, make(_device(ctx, p["target"], "gate")))

    return handle


async def door_unlock(ctx: Context, p: dict[str, Any]) -> Result:
    door = _device(ctx, p["target"], "door")
    default = next((d.unlock_s for d in ctx.config.doors if d.id == door), 5.0)
    seconds = p.get("seconds", default)
    return {**await _actuate(ctx, PulseRelay(target=door, seconds=seconds)), "seconds": seconds}


def _door_hold(on: bool) -> Handler:
    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        return await _actuate(ctx, HoldRelay(target=_device(ctx, p["target"], "door"), on=on))

    return handle


# --- access policy ---------------------------------------------------------------------


async def _policy_call(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except NotFound as exc:
        raise Refused("not_found", str(exc)) from None
    except Invalid as exc:
        raise Refused("bad_request", str(exc)) from None


def _policy(call: Callable[[Context, dict[str, Any]], Awaitable[Result | None]]) -> Handler:
    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        return await _policy_call(lambda: call(ctx, p)) or {}

    return handle


ModeChange = Callable[[bool, str, datetime], Awaitable[tuple[Command, ...]]]


def _mode(change: Callable[[AccessOps], ModeChange], on: bool) -> Handler:
    """Lockdown or emergency: change the mode, then carry out the commands it implies, all
    at once; devices that fail are listed, the mode change itself stands."""

    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        commands = await _policy_call(lambda: change(ctx.ops)(on, ctx.operator, ctx.now))
        outcomes = await asyncio.gather(
            *(_actuate(ctx, c) for c in commands), return_exceptions=True
        )
        failed = {
            c.target: o.message
            for c, o in zip(commands, outcomes, strict=True)
            if isinstance(o, Refused)
        }
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Refused):
                raise outcome
        return {
            "actuated": [c.target for c in commands if c.target not in failed],
            "failed": failed,
        }

    return handle


async def _visitor_issue(ctx: Context, p: dict[str, Any]) -> Result:
    for gate in p["gates"]:
        _device(ctx, gate, "gate")
    if p["until"] <= ctx.now:
        raise Refused("bad_request", "until: must be in the future")
    issued = await ctx.ops.issue_visitor_pass(
        p["name"], p["host"], p["until"], p["gates"], ctx.operator, ctx.now
    )
    return {
        "code": issued.code,
        "person_id": issued.person_id,
        "valid_until": issued.valid_until.isoformat(),
        "gates": list(issued.gates),
    }


def _credential(status: str) -> Callable[[Context, dict[str, Any]], Awaitable[None]]:
    async def call(ctx: Context, p: dict[str, Any]) -> None:
        await ctx.ops.set_credential_status(
            p.get("facility"), p["number"], status, ctx.operator, ctx.now
        )

    return call


# --- queries ---------------------------------------------------------------------------


async def devices_query(ctx: Context, p: dict[str, Any]) -> Result:
    return {"devices": ctx.devices.snapshot()}


def _recent(path: str, limit: int, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    conn = connect(path, readonly=True)
    try:
        return [e.to_json() for e in last_entries(conn, limit, kinds)]
    finally:
        conn.close()


async def events_query(ctx: Context, p: dict[str, Any]) -> Result:
    limit, kinds = p.get("limit", 50), p.get("kinds", ())
    entries = await asyncio.to_thread(_recent, ctx.config.store.path, limit, kinds)
    return {"events": entries}


# --- work orders and patrols (edgectl/opcommands.py, shared with the CLI) ----------------


def _operation(spec: OpSpec) -> Handler:
    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        if ctx.operations is None:
            raise Refused("unavailable", "work orders and patrols are not running here")
        return run_operation(spec, Request(ctx.operations, ctx.operator, "mqtt", p))

    return handle


# --- the table -------------------------------------------------------------------------

TARGET: Schema = {"target": Field(text(64))}
CARD: Schema = {"facility": Field(integer(0, 2**32), False), "number": Field(integer(0, 2**63))}
NOTHING: Schema = {}

COMMANDS: dict[str, Spec] = {
    "gate/open": Spec(Role.GUARD, TARGET, _gate(lambda t: OpenGate(target=t))),
    "gate/close": Spec(Role.GUARD, TARGET, _gate(lambda t: CloseGate(target=t))),
    "gate/stop": Spec(Role.GUARD, TARGET, _gate(lambda t: StopGate(target=t))),
    "door/unlock": Spec(
        Role.GUARD, {**TARGET, "seconds": Field(number(1, 60), False)}, door_unlock
    ),
    "door/hold": Spec(Role.OPERATOR, TARGET, _door_hold(True)),
    "door/lock": Spec(Role.GUARD, TARGET, _door_hold(False)),
    "lockdown/on": Spec(Role.GUARD, NOTHING, _mode(lambda o: o.set_lockdown, True)),
    "lockdown/off": Spec(Role.OPERATOR, NOTHING, _mode(lambda o: o.set_lockdown, False)),
    "emergency/on": Spec(Role.GUARD, NOTHING, _mode(lambda o: o.set_emergency, True)),
    "emergency/off": Spec(Role.ADMIN, NOTHING, _mode(lambda o: o.set_emergency, False)),
    "visitor/issue": Spec(
        Role.GUARD,
        {
            "name": Field(text(128)),
            "host": Field(text(64)),
            "until": Field(timestamp),
            "gates": Field(text_list(16)),
        },
        _policy(_visitor_issue),
    ),
    "visitor/revoke": Spec(
        Role.GUARD,
        {"code": Field(text(16))},
        _policy(lambda c, p: c.ops.revoke_visitor_pass(p["code"], c.operator, c.now)),
    ),
    "credential/suspend": Spec(Role.OPERATOR, CARD, _policy(_credential("suspended"))),
    "credential/revoke": Spec(Role.ADMIN, CARD, _policy(_credential("revoked"))),
    "antipassback/forgive": Spec(
        Role.OPERATOR,
        {"person_id": Field(text(64))},
        _policy(lambda c, p: c.ops.forgive_antipassback(p["person_id"], c.operator, c.now)),
    ),
    "query/devices": Spec(Role.VIEWER, NOTHING, devices_query),
    "query/events": Spec(
        Role.VIEWER,
        {"kinds": Field(text_list(32), False), "limit": Field(integer(1, MAX_EVENTS), False)},
        events_query,
    ),
}
COMMANDS.update({name: Spec(op.role, op.schema, _operation(op)) for name, op in OPS.items()})
