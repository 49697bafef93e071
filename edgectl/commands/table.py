"""The operator command set: ``noun/verb`` -> role, field schema, handler and timeout.

Every interface (MQTT, the control socket) runs these through ``commands.pipeline``. To add
a command (cameras, intercoms, patrols, work orders), add one entry to ``COMMANDS``: its
handler, the role it needs and its fields; authorisation, rate limits, journaling, replies
and the docs' error codes need no change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from drivers.base import DeviceError
from drivers.intercom.settings import Intercom
from drivers.onvif.offloop import OffLoopDriver
from edgectl.commands import operations as site_ops
from edgectl.commands.events import page_events
from edgectl.commands.ops import AccessOps, Invalid, NotFound, Unavailable
from edgectl.commands.roles import Role
from edgectl.commands.schema import (
    Field,
    Refused,
    Schema,
    boolean,
    integer,
    number,
    text,
    text_list,
    timestamp,
)
from edgectl.config import Config
from edgectl.devices import DeviceRegistry
from edgectl.domain import (
    CaptureEvidence,
    CloseGate,
    Command,
    HoldRelay,
    OpenGate,
    PartialOpenGate,
    PtzGotoPreset,
    PtzHome,
    PtzMove,
    PtzStop,
    PulseRelay,
    StopGate,
)
from edgectl.operations import Operations
from edgectl.router import Router
from edgectl.store.evidence import new_id

DEVICE_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0  # the whole handler, device calls included
T = TypeVar("T")
MAX_EVENTS = 200


@dataclass
class Context:
    config: Config
    router: Router
    devices: DeviceRegistry
    ops: AccessOps
    operator: str
    role: Role | None
    interface: str  # "mqtt", "control", "cli-direct"
    now: datetime
    reply_budget: int  # bytes a result may take on this interface
    view: Callable[[dict[str, Any]], dict[str, Any]]  # an entry as this operator may see it
    operations: Operations | None = None  # work orders and patrols (the daemon's)


Result = dict[str, Any]
Handler = Callable[[Context, dict[str, Any]], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Spec:
    role: Role
    schema: Schema
    handler: Handler
    timeout_s: float = COMMAND_TIMEOUT_S


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
    except DeviceError as exc:  # a driver may name the failure (device_refused, ...)
        raise Refused(getattr(exc, "code", "device_error"), str(exc)) from None
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


# --- cameras ---------------------------------------------------------------------------


async def camera_snapshot(ctx: Context, p: dict[str, Any]) -> Result:
    camera = _device(ctx, p["target"], "camera")
    evidence_id = new_id(camera, ctx.now)
    command = CaptureEvidence(
        target=camera, evidence_id=evidence_id, trigger="operator", ref=ctx.operator
    )
    return {**await _actuate(ctx, command), "evidence_id": evidence_id}


async def camera_ptz_move(ctx: Context, p: dict[str, Any]) -> Result:
    camera = _device(ctx, p["target"], "camera")
    move = PtzMove(
        target=camera,
        pan=p["pan"],
        tilt=p["tilt"],
        zoom=p.get("zoom", 0.0),
        seconds=p.get("seconds", 2.0),
    )
    return {
        **await _actuate(ctx, move),
        "stops_after_s": min(move.seconds, _ptz_limit(ctx, camera)),
    }


def _ptz_limit(ctx: Context, camera: str) -> float:
    settings = ctx.config.cameras.camera(camera)
    return settings.ptz_max_move_s if settings else 0.0


def _ptz(make: Callable[[str, dict[str, Any]], Command]) -> Handler:
    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        return await _actuate(ctx, make(_device(ctx, p["target"], "camera"), p))

    return handle


def _camera_driver(ctx: Context, target: str) -> OffLoopDriver:
    driver = ctx.router.owner(_device(ctx, target, "camera"))
    if not isinstance(driver, OffLoopDriver):
        raise Refused("unknown_device", f"{target!r} is not a camera")
    return driver


async def _camera_call(call: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout(DEVICE_TIMEOUT_S):
            return await call
    except DeviceError as exc:
        raise Refused("device_error", str(exc)) from None
    except TimeoutError:
        raise Refused("device_timeout", f"no answer in {DEVICE_TIMEOUT_S}s") from None


async def camera_presets(ctx: Context, p: dict[str, Any]) -> Result:
    driver = _camera_driver(ctx, p["target"])
    return {"target": driver.id, "presets": await _camera_call(driver.presets())}


async def camera_set_preset(ctx: Context, p: dict[str, Any]) -> Result:
    driver = _camera_driver(ctx, p["target"])
    token = await _camera_call(driver.set_preset(p["name"], p.get("preset", "")))
    return {"target": driver.id, "preset": token, "name": p["name"]}


# --- access policy ---------------------------------------------------------------------


async def _policy_call(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except NotFound as exc:
        raise Refused("not_found", str(exc)) from None
    except Invalid as exc:
        raise Refused("bad_request", str(exc)) from None
    except Unavailable as exc:
        raise Refused("store_error", str(exc)) from None


def _policy(call: Callable[[Context, dict[str, Any]], Awaitable[Result | None]]) -> Handler:
    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        return await _policy_call(lambda: call(ctx, p)) or {}

    return handle


ModeChange = Callable[[AccessOps, Context], Awaitable[tuple[Command, ...]]]


def _mode(change: ModeChange) -> Handler:
    """Lockdown or emergency: change the mode, then carry out the commands it implies, all
    at once; devices that fail are listed, the mode change itself stands."""

    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        commands = await _policy_call(lambda: change(ctx.ops, ctx))
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


def _lockdown(on: bool) -> Handler:
    return _mode(lambda o, c: o.set_lockdown(on, c.operator, c.now, via=c.interface))


def _emergency(on: bool) -> Handler:
    return _mode(lambda o, c: o.set_emergency(on, c.operator, c.now, via=c.interface))


async def _visitor_issue(ctx: Context, p: dict[str, Any]) -> Result:
    for gate in p["gates"]:
        _device(ctx, gate, "gate")
    if p["until"] <= ctx.now:
        raise Refused("bad_request", "until: must be in the future")
    issued = await ctx.ops.issue_visitor_pass(
        p["name"], p["host"], p["until"], p["gates"], ctx.operator, ctx.now, via=ctx.interface
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
            p.get("facility"), p["number"], status, ctx.operator, ctx.now, via=ctx.interface
        )

    return call


# --- intercoms --------------------------------------------------------------------------


def _intercom(ctx: Context, target: str) -> Intercom:
    _device(ctx, target, "intercom")
    return next(ic for ic in ctx.config.intercoms if ic.id == target)


def _opener(ctx: Context, ic: Intercom) -> Command:
    """The command that opens what the intercom guards: its relay, a door's, or a gate."""
    if ic.gate:
        return OpenGate(target=ic.gate)
    seconds = next((d.unlock_s for d in ctx.config.doors if d.id == ic.door), 5.0)
    return PulseRelay(target=ic.door, seconds=seconds)


async def intercom_open(ctx: Context, p: dict[str, Any]) -> Result:
    ic = _intercom(ctx, p["target"])
    await _actuate(ctx, _opener(ctx, ic))
    return {"intercom": ic.id, "opened": ic.target}


VISITOR_FIELDS = ("visitor_name", "visitor_host", "visitor_until")


async def intercom_answer(ctx: Context, p: dict[str, Any]) -> Result:
    """Answer the call; optionally register the caller as a visitor (the pass works at this
    intercom's target for the visit) and open. A failed open revokes the pass it issued,
    so the reply's error means nothing changed but the call being answered."""
    ic = _intercom(ctx, p["target"])
    given = [f for f in VISITOR_FIELDS if f in p]
    if given and len(given) != len(VISITOR_FIELDS):
        raise Refused("bad_request", f"a visitor needs all of {list(VISITOR_FIELDS)}")
    call = ctx.router.intercoms.signal(ic.id, "answered", by=ctx.operator)
    result: Result = {"intercom": ic.id, "call": call.call_id if call else None}
    issued = None
    if given:
        if p["visitor_until"] <= ctx.now:
            raise Refused("bad_request", "visitor_until: must be in the future")
        name, host, until = (p[f] for f in VISITOR_FIELDS)
        issued = await _policy_call(
            lambda: ctx.ops.issue_visitor_pass(
                name, host, until, (ic.target,), ctx.operator, ctx.now, via=ctx.interface
            )
        )
        result["visitor"] = {
            "code": issued.code,
            "person_id": issued.person_id,
            "valid_until": issued.valid_until.isoformat(),
            "targets": [ic.target],
        }
    if p.get("open", False):
        try:
            await _actuate(ctx, _opener(ctx, ic))
        except Refused:
            if issued is not None:
                await ctx.ops.revoke_visitor_pass(
                    issued.code, ctx.operator, ctx.now, via=ctx.interface
                )
            raise
        result["opened"] = ic.target
    return result


# --- queries ---------------------------------------------------------------------------


async def devices_query(ctx: Context, p: dict[str, Any]) -> Result:
    return {"devices": ctx.devices.snapshot()}


async def events_query(ctx: Context, p: dict[str, Any]) -> Result:
    """Newest first within ``limit`` and the reply's byte budget, returned oldest first;
    ``before`` pages back: pass the reply's ``next_before`` for the next page."""
    return await asyncio.to_thread(
        page_events,
        ctx.config.store.path,
        limit=p.get("limit", 50),
        kinds=p.get("kinds", ()),
        before=p.get("before"),
        budget=ctx.reply_budget,
        view=ctx.view,
    )


# --- work orders and patrols (handlers in commands/operations.py) ----------------------


def _site(handler: site_ops.OpHandler) -> Handler:
    async def handle(ctx: Context, p: dict[str, Any]) -> Result:
        if ctx.operations is None:
            raise Refused("unavailable", "work orders and patrols are not running here")
        return site_ops.run(handler, ctx.operations, ctx.operator, ctx.interface, p)

    return handle


# --- the table -------------------------------------------------------------------------

TARGET: Schema = {"target": Field(text(64))}
CARD: Schema = {"facility": Field(integer(0, 2**32), False), "number": Field(integer(0, 2**63))}
NOTHING: Schema = {}
ORDER: Schema = {"order_id": Field(text(64))}
BEHALF: Schema = {"as": Field(text(64), False)}  # the butler or desk agent, if not the caller
TRANSITION: Schema = {
    **ORDER,
    "status": Field(text(32)),
    "estimated_fix_at": Field(timestamp, False),
    "verdict": Field(text(32), False),
    "note": Field(text(1000), False),
    **BEHALF,
}

COMMANDS: dict[str, Spec] = {
    "gate/open": Spec(Role.GUARD, TARGET, _gate(lambda t: OpenGate(target=t))),
    "gate/close": Spec(Role.GUARD, TARGET, _gate(lambda t: CloseGate(target=t))),
    "gate/stop": Spec(Role.GUARD, TARGET, _gate(lambda t: StopGate(target=t))),
    "gate/partial_open": Spec(Role.GUARD, TARGET, _gate(lambda t: PartialOpenGate(target=t))),
    "door/unlock": Spec(
        Role.GUARD, {**TARGET, "seconds": Field(number(1, 60), False)}, door_unlock
    ),
    "door/hold": Spec(Role.OPERATOR, TARGET, _door_hold(True)),
    "door/lock": Spec(Role.GUARD, TARGET, _door_hold(False)),
    "lockdown/on": Spec(Role.GUARD, NOTHING, _lockdown(True)),
    "lockdown/off": Spec(Role.OPERATOR, NOTHING, _lockdown(False)),
    "emergency/on": Spec(Role.GUARD, NOTHING, _emergency(True)),
    "emergency/off": Spec(Role.ADMIN, NOTHING, _emergency(False)),
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
        {"code": Field(text(16), secret=True)},
        _policy(
            lambda c, p: c.ops.revoke_visitor_pass(p["code"], c.operator, c.now, via=c.interface)
        ),
    ),
    "credential/suspend": Spec(Role.OPERATOR, CARD, _policy(_credential("suspended"))),
    "credential/revoke": Spec(Role.ADMIN, CARD, _policy(_credential("revoked"))),
    "credential/reactivate": Spec(Role.OPERATOR, CARD, _policy(_credential("active"))),
    "antipassback/forgive": Spec(
        Role.OPERATOR,
        {"person_id": Field(text(64))},
        _policy(
            lambda c, p: c.ops.forgive_antipassback(
                p["person_id"], c.operator, c.now, via=c.interface
            )
        ),
    ),
    "camera/snapshot": Spec(Role.GUARD, TARGET, camera_snapshot),
    "camera/ptz_move": Spec(
        Role.GUARD,
        {
            **TARGET,
            "pan": Field(number(-1, 1)),
            "tilt": Field(number(-1, 1)),
            "zoom": Field(number(-1, 1), False),
            "seconds": Field(number(0.1, 60), False),
        },
        camera_ptz_move,
    ),
    "camera/ptz_stop": Spec(Role.GUARD, TARGET, _ptz(lambda t, p: PtzStop(target=t))),
    "camera/ptz_home": Spec(Role.GUARD, TARGET, _ptz(lambda t, p: PtzHome(target=t))),
    "camera/goto_preset": Spec(
        Role.GUARD,
        {**TARGET, "preset": Field(text(64))},
        _ptz(lambda t, p: PtzGotoPreset(target=t, preset=p["preset"])),
    ),
    "camera/set_preset": Spec(
        Role.OPERATOR,
        {**TARGET, "name": Field(text(64)), "preset": Field(text(64), False)},
        camera_set_preset,
    ),
    "camera/presets": Spec(Role.VIEWER, TARGET, camera_presets),
    "intercom/open": Spec(Role.GUARD, TARGET, intercom_open),
    "intercom/answer": Spec(
        Role.GUARD,
        {
            **TARGET,
            "open": Field(boolean, False),
            "visitor_name": Field(text(128), False),
            "visitor_host": Field(text(64), False),
            "visitor_until": Field(timestamp, False),
        },
        intercom_answer,
    ),
    "query/devices": Spec(Role.VIEWER, NOTHING, devices_query),
    "query/events": Spec(
        Role.VIEWER,
        {
            "kinds": Field(text_list(32), False),
            "limit": Field(integer(1, MAX_EVENTS), False),
            "before": Field(integer(1, 2**63), False),
        },
        events_query,
    ),
    "workorder/create": Spec(
        Role.GUARD,
        {
            "title": Field(text(200)),
            "priority": Field(text(32), False),
            "source": Field(text(16), False),
            "detail": Field(text(2000), False),
            "target": Field(text(64), False),
            "assignee": Field(text(64), False),
            "role": Field(text(32), False),
            **BEHALF,
        },
        _site(site_ops.create),
    ),
    "workorder/transition": Spec(Role.GUARD, TRANSITION, _site(site_ops.transition)),
    # the status command operators used before the site kept the lifecycle
    "workorder/status": Spec(Role.GUARD, TRANSITION, _site(site_ops.transition)),
    "workorder/assign": Spec(
        Role.OPERATOR, {**ORDER, "assignee": Field(text(64))}, _site(site_ops.assign)
    ),
    "workorder/list": Spec(Role.VIEWER, NOTHING, _site(site_ops.orders)),
    "patrol/start": Spec(
        Role.OPERATOR,
        {"route": Field(text(64)), "guard": Field(text(64), False)},
        _site(site_ops.patrol_start),
    ),
    "patrol/badge": Spec(Role.GUARD, {"checkpoint": Field(text(64))}, _site(site_ops.patrol_badge)),
    "patrol/routes": Spec(Role.VIEWER, NOTHING, _site(site_ops.patrol_routes)),
    "patrol/tours": Spec(Role.VIEWER, NOTHING, _site(site_ops.patrol_tours)),
}
