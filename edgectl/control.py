"""The local control API: HTTP over a Unix socket, for the CLI on the same box.

Only local users with access to the socket (mode 0660, group of the service) can use it.
Commands are the operator command table's (``gate/open``, ...), run by the same pipeline
as MQTT's: the caller is ``local:<user>`` from the kernel's peer credentials, with a role
from ``edgectl.commands.local``, and every command is journaled as an ``operator_command``
with ``interface = "control"``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from edgectl.commands import local
from edgectl.commands.pipeline import Call, Pipeline
from edgectl.commands.roles import Role
from edgectl.commands.schema import Refused, check_tree
from edgectl.devices import DeviceRegistry

MAX_BODY = 64 * 1024
STATUS = {
    "ok": 200,
    "bad_json": 400,
    "bad_request": 400,
    "unknown_command": 400,
    "forbidden": 403,
    "unknown_device": 404,
    "not_found": 404,
    "device_error": 502,
    "device_timeout": 504,
    "timeout": 504,
    "store_error": 503,
    "unavailable": 503,
}
CARD_STATUS = {"suspended": "suspend", "revoked": "revoke", "active": "reactivate"}


def _peer_uid(request: web.Request) -> int | None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _remove_stale_socket(path: str) -> None:
    """Clear the way for our socket: only a socket nobody listens on is ever removed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise OSError(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # left by a daemon that died
        return
    finally:
        probe.close()
    raise OSError(f"{path} is served by another process; refusing to take it over")


class ControlServer:
    def __init__(self, site_id: str, pipeline: Pipeline, devices: DeviceRegistry) -> None:
        self.site_id = site_id
        self.pipeline = pipeline
        self.router = pipeline.router
        self.devices = devices
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.router.add_get("/v1/status", self.status)
        self.app.router.add_get("/v1/devices/{id}", self.device)
        self.app.router.add_post("/v1/commands", self.command)
        self.app.router.add_post("/v1/credentials/status", self.credential_status)
        self._runner: web.AppRunner | None = None
        self._path = ""
        self._made: tuple[int, int] | None = None
        # drivers' own health, task restarts, watchdog problems (the daemon sets it)
        self.health: Callable[[], dict[str, object]] = dict

    async def start(self, path: str) -> None:
        self._path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_socket(path)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, path).start()
        os.chmod(path, 0o660)
        st = os.lstat(path)
        self._made = (st.st_dev, st.st_ino)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            with contextlib.suppress(FileNotFoundError):  # only the socket we made
                st = os.lstat(self._path)
                if stat.S_ISSOCK(st.st_mode) and (st.st_dev, st.st_ino) == self._made:
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

    def _caller(self, request: web.Request) -> tuple[str, Role | None]:
        """``local:<user>`` and its role, from the kernel's peer credentials."""
        uid = _peer_uid(request)
        if uid is None:
            return "local:unknown", None
        return local.identity(uid, self.pipeline.roles, self.pipeline.config.commands)

    async def command(self, request: web.Request) -> web.Response:
        """``{"command": "noun/verb", <fields>}`` -> the pipeline's reply."""
        operator, role = self._caller(request)
        name = "?"
        try:
            try:
                body = await request.json()
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise Refused("bad_json", "the body is not a JSON object") from None
            if not isinstance(body, dict) or not isinstance(body.get("command"), str):
                raise Refused("bad_request", 'expected {"command": "noun/verb", ...fields}')
            check_tree(body)
            name = body.pop("command")[:64]
        except Refused as exc:
            call = Call(operator, "control", name, role=role)
            reply = await self.pipeline.refuse(call, exc)
        else:
            reply = await self.pipeline.run(Call(operator, "control", name, body, role=role))
        reply["command"] = name
        return web.json_response(reply, status=STATUS.get(reply.get("code", "ok"), 500))

    async def credential_status(self, request: web.Request) -> web.Response:
        """``{"facility", "number", "status"}`` (the ``cards`` CLI): the table's
        ``credential/suspend``, ``credential/revoke`` or ``credential/reactivate``."""
        try:
            body = await request.json()
            check_tree(body)
            verb = CARD_STATUS[body.pop("status")]
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, Refused):
            statuses = ", ".join(CARD_STATUS)
            return _error("bad_request", f"status: expected one of {statuses}", 400)
        operator, role = self._caller(request)
        call = Call(operator, "control", f"credential/{verb}", body, role=role)
        reply = await self.pipeline.run(call)
        status = STATUS.get(reply.get("code", "ok"), 500)
        if reply["status"] == "ok":
            return web.json_response({"status": "ok"}, status=status)
        return _error(reply["code"], reply["message"], status)


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"status": "error", "code": code, "message": message}, status=status)
