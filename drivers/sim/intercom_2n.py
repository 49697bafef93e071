"""A simulated 2N IP intercom speaking the 2N HTTP API (JSON over HTTP, digest auth).

Routes: ``/api/system/info``, ``/api/switch/ctrl``, ``/api/log/subscribe``,
``/api/log/pull`` (long poll: answers at once if events are queued, else after
``timeout`` seconds with an empty list) and ``/api/log/unsubscribe``. Events use the
2N log format: ``{"id", "tzShift", "utcTime", "upTime", "event", "params"}``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import web

from drivers.sim.intercom_base import Raw, SimEvent, SimIntercom

CALL_STATES = {"ringing": "ringing", "answered": "connected", "ended": "terminated"}


def _ok(result: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"success": True}
    if result is not None:
        body["result"] = result
    return web.json_response(body)


def _error(code: int, param: str, description: str) -> web.Response:
    error = {"code": code, "param": param, "description": description}
    return web.json_response({"success": False, "error": error})


class Sim2N(SimIntercom):
    realm = "HTTP API"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._channels: dict[int, asyncio.Queue[SimEvent | Raw | None]] = {}
        self._ids = itertools.count(1)
        self._started = time.monotonic()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/system/info", self.info)
        app.router.add_route("*", "/api/switch/ctrl", self.switch_ctrl)
        app.router.add_route("*", "/api/log/subscribe", self.log_subscribe)
        app.router.add_route("*", "/api/log/pull", self.log_pull)
        app.router.add_route("*", "/api/log/unsubscribe", self.log_unsubscribe)

    async def info(self, request: web.Request) -> web.Response:
        return _ok(
            {
                "variant": "2N IP Verso (simulated)",
                "serialNumber": "54-0000-0000",
                "swVersion": "2.40.0.0.0",
                "buildType": "sim",
                "deviceName": "edgectl sim",
            }
        )

    async def switch_ctrl(self, request: web.Request) -> web.Response:
        q = request.query
        if not q.get("switch", "").isdigit() or q.get("action") not in ("on", "off", "trigger"):
            return _error(12, "switch", "invalid parameter value")
        refusal = await self.open_fault()
        if refusal:
            return _error(14, "switch", refusal)
        relay = int(q["switch"])
        if q["action"] == "off":
            self.relay[relay] = False
        else:
            self.pulse(relay)
        return _ok()

    async def log_subscribe(self, request: web.Request) -> web.Response:
        channel = next(self._ids)
        self._channels[channel] = self.subscribe()
        return _ok({"id": channel})

    async def log_unsubscribe(self, request: web.Request) -> web.Response:
        queue = self._channels.pop(int(request.query.get("id", "0") or 0), None)
        if queue is None:
            return _error(12, "id", "invalid parameter value")
        self.unsubscribe(queue)
        return _ok()

    def forget_subscriptions(self) -> None:
        self._channels.clear()

    async def log_pull(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        queue = self._channels.get(int(q["id"])) if q.get("id", "").isdigit() else None
        if queue is None:
            return _error(12, "id", "invalid parameter value")
        timeout = float(q.get("timeout", "0") or 0)
        await self.stalled()
        item = await self.next_item(queue, timeout)
        if self.faults.stall:
            await asyncio.Event().wait()  # a stalled device never answers
        if item is None:  # rebooted while we waited
            return _error(12, "id", "invalid parameter value")
        if isinstance(item, Raw):
            return web.Response(body=item.payload, content_type="application/json")
        events = [] if item is False else [item]
        while not queue.empty() and len(events) < 128:
            more = queue.get_nowait()
            if not isinstance(more, SimEvent):
                break
            events.append(more)
        return _ok({"events": [self._encode(e) for e in events if isinstance(e, SimEvent)]})

    def _encode(self, event: SimEvent) -> dict[str, Any]:
        name, params = _event(event)
        return {
            "id": next(self._ids),
            "tzShift": 0,
            "utcTime": int(time.time()),
            "upTime": int(time.monotonic() - self._started),
            "event": name,
            "params": params,
        }


def _event(event: SimEvent) -> tuple[str, dict[str, Any]]:
    d = event.data
    if event.kind == "call":
        state = CALL_STATES[d["state"]]
        return "CallStateChanged", {
            "direction": "outgoing",
            "state": state,
            "peer": "sip:reception@edgectl",
            "session": 1,
            "call": 1,
        }
    if event.kind == "card":
        uid = f"{d['number']:08X}"
        return "CardEntered", {"direction": "in", "reader": "internal", "uid": uid, "valid": True}
    if event.kind == "code":
        return "CodeEntered", {"code": d["code"], "valid": False}
    if event.kind == "tamper":
        return "TamperSwitchActivated", {"state": True}
    if event.kind == "door":
        return "DoorStateChanged", {
            "door": d["relay"],
            "state": "opened" if d["open"] else "closed",
        }
    if event.kind == "input":
        return "InputChanged", {"port": f"input{d['input']}", "state": d["active"]}
    return d.get("name", "FutureEvent"), {"anything": json.dumps(d)}
