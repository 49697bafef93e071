"""The one way an operator command runs, whatever interface it came in on.

``Pipeline.run(call)``: look the command up, check the caller's role, run the
interface's own admission checks (MQTT: staleness, replay), validate the fields, run the
handler under the command's timeout, and journal an ``operator_command`` event with the
outcome before answering. Refusals are answered and journaled the same way.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from edgectl.commands.ops import AccessOps
from edgectl.commands.privacy import Pseudonyms, View, load_key
from edgectl.commands.roles import Role, RoleTable
from edgectl.commands.schema import Refused, validate
from edgectl.commands.table import COMMANDS, Context, Spec
from edgectl.config import Config
from edgectl.devices import DeviceRegistry
from edgectl.domain import OperatorCommand
from edgectl.operations import Operations
from edgectl.router import Clock, Router

log = structlog.get_logger(__name__)

MAX_ERROR_CHARS = 300
Reply = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One request: who, through which interface, which command, its raw fields."""

    operator: str
    interface: str  # "mqtt", "control", "cli-direct"
    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    request: str | None = None  # the request's id, journaled (MQTT: correlation data)
    transaction: str | None = None
    reply_budget: int = 1 << 20
    role: Role | None = None  # set by an interface that knows it (the control socket's uid)


Admit = Callable[[Spec], None]


def _no_checks(_: Spec) -> None:
    return None


class Pipeline:
    def __init__(
        self,
        config: Config,
        router: Router,
        devices: DeviceRegistry,
        ops: AccessOps,
        clock: Clock,
        roles: RoleTable | None = None,
        *,
        operations: Operations | None = None,
    ) -> None:
        self.config = config
        self.router = router
        self.devices = devices
        self.ops = ops
        self.clock = clock
        self.roles = roles or RoleTable(config.operators)
        self.operations = operations  # work orders and patrols, where the site runs them
        self._pseudonyms: Pseudonyms | None = None

    async def pseudonyms(self) -> Pseudonyms:
        """The site's key, from the store; if the store cannot give it now (locked,
        failing), a key for this process's life, so that nothing waits or fails on it."""
        if self._pseudonyms is None:
            try:
                self._pseudonyms = await asyncio.to_thread(load_key, self.config.store.path)
            except sqlite3.Error as exc:
                log.warning("pseudonym_key_unavailable", error=str(exc))
                self._pseudonyms = Pseudonyms(secrets.token_bytes(32))
        return self._pseudonyms

    async def view_for(self, role: Role | None) -> View:
        """What an operator of ``role`` may see of journal entries."""
        policy = self.config.commands.policy(role.name.lower()) if role else None
        return View(
            personal=role is not None and role >= Role.GUARD,
            clear_credentials=policy is not None and policy.credentials == "clear",
            pseudonyms=await self.pseudonyms(),
        )

    def role(self, call: Call) -> Role | None:
        return call.role if call.role is not None else self.roles.role(call.operator)

    def spec(self, call: Call) -> Spec:
        """The command's spec if ``call.operator`` may run it; else Refused."""
        spec = COMMANDS.get(call.name)
        if spec is None:
            raise Refused("unknown_command", f"no command {call.name!r}; see docs/mqtt.md")
        role = self.role(call)
        if role is None:
            raise Refused("forbidden", f"{call.operator!r} is not an operator of this site")
        if role < spec.role:
            raise Refused(
                "forbidden",
                f"{call.name} needs role {spec.role.name.lower()}; "
                f"{call.operator}: {role.name.lower()}",
            )
        return spec

    async def run(self, call: Call, admit: Admit = _no_checks) -> Reply:
        now = self.clock()
        params: dict[str, Any] = {}
        spec: Spec | None = None
        try:
            spec = self.spec(call)
            admit(spec)
            params = validate(call.fields, spec.schema)
            role = self.role(call)
            ctx = Context(
                self.config,
                self.router,
                self.devices,
                self.ops,
                call.operator,
                role,
                call.interface,
                now,
                call.reply_budget,
                (await self.view_for(role)).entry,
                self.operations,
            )
            async with asyncio.timeout(spec.timeout_s):
                result = await spec.handler(ctx, params)
            reply: Reply = {"status": "ok", "result": result}
        except Refused as exc:
            reply = {"status": "error", "code": exc.code, "message": exc.message}
        except TimeoutError:
            seconds = spec.timeout_s if spec else 0
            reply = {"status": "error", "code": "timeout", "message": f"no result in {seconds}s"}
        except Exception:
            log.exception("command_failed", command=call.name, operator=call.operator)
            reply = {"status": "error", "code": "internal", "message": "internal error (logged)"}
        await self.journal(call, spec, params, reply, now)
        return reply

    async def refuse(self, call: Call, refusal: Refused) -> Reply:
        """Answer and journal a request refused before it reached the table."""
        reply: Reply = {"status": "error", "code": refusal.code, "message": refusal.message}
        await self.journal(call, None, {}, reply, self.clock())
        return reply

    async def journal(
        self, call: Call, spec: Spec | None, params: dict[str, Any], reply: Reply, now: datetime
    ) -> None:
        secret = {k for k, f in spec.schema.items() if f.secret} if spec else set()
        error = None
        if reply["status"] == "error":
            error = f"{reply['code']}: {reply['message']}"[:MAX_ERROR_CHARS]
        event = OperatorCommand(
            source=call.operator,
            at=now,
            interface=call.interface,
            command=call.name,
            target=params.get("target"),
            params={k: v for k, v in params.items() if k != "target" and k not in secret},
            outcome=reply["status"],
            error=error,
            request=call.request,
            transaction=call.transaction,
        )
        try:
            await self.router.record(event)
        except Exception as exc:
            log.error(
                "command_not_journaled", command=call.name, operator=call.operator, error=str(exc)
            )
