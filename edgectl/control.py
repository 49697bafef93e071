"""The local control API: HTTP over a Unix socket, for the CLI on the same box.

Only local users with access to the socket (mode 0660, group of the service) can use it.
Every command is journaled as an ``operator_command`` with the caller's uid.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from drivers.base import DeviceError
from edgectl.devices import DeviceRegistry
from edgectl.domain import CloseGate, Command, OpenGate, OperatorCommand, PartialOpenGate, StopGate
from edgectl.mqtt.payloads import Refused, validate
from edgectl.opcommands import OPS, Request
from edgectl.opcommands import run as run_operation
from edgectl.operations import Operations
from edgectl.router import Router
from edgectl.site.actor import Actor
from edgectl.site.service import SiteService
from edgectl.site.worker import SiteWorker
from edgectl.store.credentials import CredentialError, card_label

COMMANDS: dict[str, Callable[[str], Command]] = {
    "open_gate": lambda t: OpenGate(target=t),
    "close_gate": lambda t: CloseGate(target=t),
    "stop_gate": lambda t: StopGate(target=t),
    "partial_open_gate": lambda t: PartialOpenGate(target=t),
}


def _peer_uid(request: web.Request) -> int | None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


class ControlServer:
    def __init__(
        self,
        site_id: str,
        router: Router,
        devices: DeviceRegistry,
        site: SiteWorker,
        operations: Operations | None = None,
    ) -> None:
        self.site_id = site_id
        self.router = router
        self.devices = devices
        self.site = site
        self.operations = operations
        self.app = web.Application(client_max_size=64 * 1024)
        self.app.router.add_get("/v1/status", self.status)
        self.app.router.add_get("/v1/devices/{id}", self.device)
        self.app.router.add_post("/v1/commands", self.command)
        self.app.router.add_post("/v1/credentials/status", self.credential_status)
        self.app.router.add_post("/v1/ops/{noun}/{verb}", self.operation)
        self._runner: web.AppRunner | None = None
        self._path = ""
        # drivers' own health, task restarts, watchdog problems (the daemon sets it)
        self.health: Callable[[], dict[str, object]] = dict

    async def start(self, path: str) -> None:
        self._path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, path).start()
        os.chmod(path, 0o660)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)

    async def status(self, _: web.Request) -> web.Response:
        return web.json_response(
            {"site": self.site_id, "devices": self.devices.snapshot()} | self.health()
        )

    async def device(self, request: web.Request) -> web.Response:
        """One device: the registry's view, plus its driver's own detail where it has one."""
        device_id = request.match_info["id"]
        view = self.devices.views.get(device_id)
        if view is None:
            return web.json_response(
                {
                    "status": "error",
                    "code": "unknown_device",
                    "message": f"no device {device_id!r}",
                },
                status=404,
            )
        detail = getattr(self.router.owner(device_id), "status", None)
        extra = detail(device_id) if callable(detail) and view.kind == "gate" else {}
        return web.json_response(view.to_json() | extra)

    async def command(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            name, target = body["command"], body["target"]
            make = COMMANDS[name]
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {
                    "status": "error",
                    "code": "bad_request",
                    "message": f"expected {{command: one of {sorted(COMMANDS)}, target}}",
                },
                status=400,
            )
        who = f"local:{_peer_uid(request)}"
        outcome: dict[str, Any] = {"status": "ok"}
        try:
            await self.router.execute(make(target))
        except DeviceError as exc:
            outcome = {"status": "error", "code": "device_error", "message": str(exc)}
        await self.router.record(
            OperatorCommand(
                source=who,
                at=datetime.now(UTC),
                channel="cli",
                command=name,
                target=target,
                outcome=outcome["status"],
                error=outcome.get("message"),
            )
        )
        return web.json_response(outcome, status=200 if outcome["status"] == "ok" else 502)

    async def operation(self, request: web.Request) -> web.Response:
        """Work-order and patrol commands (``edgectl/opcommands.py``) for a local user."""
        name = f"{request.match_info['noun']}/{request.match_info['verb']}"
        who = f"local:{_peer_uid(request)}"
        params: dict[str, Any] = {}
        try:
            spec = OPS.get(name)
            if spec is None:
                raise Refused("unknown_command", f"no command {name!r}; known: {sorted(OPS)}")
            if self.operations is None:
                raise Refused("unavailable", "work orders and patrols are not running")
            try:
                body = await request.json()
            except ValueError:
                raise Refused("bad_json", "expected a JSON object") from None
            if not isinstance(body, dict):
                raise Refused("bad_json", "expected a JSON object")
            by = body.pop("as", None)  # the person at the desk or the butler, if named
            params = validate(body, spec.schema)
            actor = f"{who}:{by}" if isinstance(by, str) and by else who
            result = run_operation(spec, Request(self.operations, actor, "cli", params))
            outcome: dict[str, Any] = {"status": "ok", "result": result}
        except Refused as exc:
            outcome = {"status": "error", "code": exc.code, "message": exc.message}
        await self.router.record(
            OperatorCommand(
                source=who,
                at=self.router.clock(),
                channel="cli",
                command=name,
                target=params.get("order_id") or params.get("route"),
                params={k: str(v) for k, v in params.items() if k not in ("order_id", "route")},
                outcome=outcome["status"],
                error=outcome.get("message"),
            )
        )
        status = (
            200 if outcome["status"] == "ok" else 404 if outcome.get("code") == "not_found" else 400
        )
        return web.json_response(outcome, status=status)

    async def credential_status(self, request: web.Request) -> web.Response:
        """Suspend, revoke or reactivate a card, through the site service (audited)."""
        try:
            body = await request.json()
            facility, number, status = body.get("facility"), body["number"], body["status"]
            if not isinstance(number, int) or not (facility is None or isinstance(facility, int)):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            message = "expected {facility (optional), number, status}"
            return _error("bad_request", message, 400)
        actor = Actor(f"local:{_peer_uid(request)}", "control")
        try:
            found = await self.site.call(
                SiteService.set_card_status, facility, number, status, actor=actor
            )
        except CredentialError as exc:
            return _error("bad_request", str(exc), 400)
        except sqlite3.Error as exc:  # the store is locked or failing: nothing changed
            return _error("store_error", str(exc), 503)
        if not found:
            return _error("not_found", f"no {card_label(facility, number)}", 404)
        return web.json_response({"status": "ok"})


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"status": "error", "code": code, "message": message}, status=status)


async def request(
    path: str, method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, Any]]:
    """Call the daemon's control API; raise OSError if no daemon listens at ``path``."""
    conn = aiohttp.UnixConnector(path=path)
    async with aiohttp.ClientSession(
        connector=conn, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        try:
            async with session.request(method, f"http://edgectl{url}", json=body) as resp:
                return resp.status, await resp.json()
        except aiohttp.ClientConnectionError as exc:
            raise OSError(str(exc)) from exc
