"""A simulated Dahua VTO speaking the Dahua HTTP CGI API (digest auth).

Routes: ``/cgi-bin/accessControl.cgi?action=openDoor&channel=N`` (``OK`` or ``Error``)
and ``/cgi-bin/eventManager.cgi?action=attach&codes=[All]``, a
``multipart/x-mixed-replace`` stream of ``text/plain`` parts
``Code=...;action=...;index=...[;data={json}]`` with a ``Heartbeat`` part when idle.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from drivers.sim.intercom_base import MultipartStream, SimEvent, SimIntercom

BOUNDARY = "myboundary"


class SimDahua(SimIntercom):
    realm = "Login to VTO2000A"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stream = MultipartStream(self, BOUNDARY, "multipart/x-mixed-replace")

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/cgi-bin/accessControl.cgi", self.access_control)
        app.router.add_get("/cgi-bin/eventManager.cgi", self.event_manager)

    async def access_control(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("action") != "openDoor" or not q.get("channel", "").isdigit():
            return web.Response(status=400, text="Error\r\nBad Request!\r\n")
        if await self.open_fault():
            return web.Response(text="Error\r\n")
        self.pulse(int(q["channel"]))
        return web.Response(text="OK\r\n")

    async def event_manager(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("action") != "attach":
            return web.Response(status=400, text="Error\r\nBad Request!\r\n")
        return await self._stream.serve(request, self._encode, self._heartbeat)

    def _encode(self, event: SimEvent) -> bytes:
        d = event.data
        data: dict[str, Any] | None = None
        index = 0
        if event.kind == "call":
            code, action = {
                "ringing": ("Invite", "Start"),
                "answered": ("CallAnswered", "Pulse"),  # not every firmware reports this
                "ended": ("Invite", "Stop"),
            }[d["state"]]
        elif event.kind == "card":
            code, action = "AccessControl", "Pulse"
            data = {"CardNo": str(d["number"]), "Method": 1, "UserID": "", "Status": 0}
        elif event.kind == "tamper":
            code, action = "ChassisIntruded", "Start"
        elif event.kind == "door":
            code, action = "DoorStatus", "Pulse"
            data = {"Status": "Open" if d["open"] else "Close"}
        elif event.kind == "input":
            code, action = "AlarmLocal", "Start" if d["active"] else "Stop"
            index = d["input"] - 1  # local alarm inputs count from 0
        elif event.kind == "code":
            return b""  # this model reports no keypad codes on the event stream
        else:
            code, action = d.get("name", "FutureEvent"), "Pulse"
        text = f"Code={code};action={action};index={index}"
        if data is not None:
            text += ";data=" + json.dumps(data)
        return self._stream.part("text/plain", text.encode() + b"\r\n")

    def _heartbeat(self) -> bytes:
        return self._stream.part("text/plain", b"Heartbeat\r\n")
