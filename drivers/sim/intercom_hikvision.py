"""A simulated Hikvision door station speaking ISAPI (XML and JSON over HTTP, digest auth).

Routes: ``PUT /ISAPI/AccessControl/RemoteControl/door/{n}`` with
``<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>``, answered with a
``ResponseStatus``; ``GET /ISAPI/Event/notification/alertStream``, a ``multipart/mixed``
stream of ``EventNotificationAlert`` parts (JSON for access-control and call events, XML
for the ``videoloss`` heartbeat the devices send when idle).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from aiohttp import web

from drivers.sim.intercom_base import MultipartStream, SimEvent, SimIntercom

BOUNDARY = "MIME_boundary"
XMLNS = "http://www.isapi.org/ver20/XMLSchema"
# VoiceTalkEvent.cmdType for a call's states
CALL_CMDS = {"ringing": "request", "answered": "answer", "ended": "hangUp"}


def response_status(url: str, code: int, string: str, sub: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ResponseStatus version="2.0" xmlns="{XMLNS}">'
        f"<requestURL>{escape(url)}</requestURL><statusCode>{code}</statusCode>"
        f"<statusString>{string}</statusString><subStatusCode>{sub}</subStatusCode>"
        "</ResponseStatus>"
    )


class SimHikvision(SimIntercom):
    realm = "DS-KV8113"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stream = MultipartStream(self, BOUNDARY, "multipart/mixed")
        self._posts = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_put(r"/ISAPI/AccessControl/RemoteControl/door/{n:\d+}", self.door)
        app.router.add_get("/ISAPI/Event/notification/alertStream", self.alert_stream)

    async def door(self, request: web.Request) -> web.Response:
        url = request.path
        try:
            cmd = SafeET.fromstring(await request.text()).findtext(".//{*}cmd") or ""
        except SafeET.ParseError:
            cmd = ""
        if cmd not in ("open", "close", "alwaysOpen", "alwaysClose"):
            xml = response_status(url, 6, "Invalid XML Content", "badXmlContent")
            return web.Response(status=400, text=xml, content_type="application/xml")
        refusal = await self.open_fault()
        if refusal:
            xml = response_status(url, 4, "Invalid Operation", "deviceBusy")
            return web.Response(status=403, text=xml, content_type="application/xml")
        if cmd in ("open", "alwaysOpen"):
            self.pulse(int(request.match_info["n"]))
        return web.Response(
            text=response_status(url, 1, "OK", "ok"), content_type="application/xml"
        )

    async def alert_stream(self, request: web.Request) -> web.StreamResponse:
        return await self._stream.serve(request, self._encode, self._heartbeat)

    def _alert(self, event_type: str, description: str, extra: dict[str, Any]) -> dict[str, Any]:
        self._posts += 1
        return {
            "ipAddress": "127.0.0.1",
            "portNo": 80,
            "protocol": "HTTP",
            "macAddress": "00:00:5e:00:53:01",
            "channelID": 1,
            "dateTime": datetime.now(UTC).isoformat(timespec="seconds"),
            "activePostCount": self._posts,
            "eventType": event_type,
            "eventState": "active",
            "eventDescription": description,
            **extra,
        }

    def _encode(self, event: SimEvent) -> bytes:
        d = event.data
        if event.kind == "call":
            talk = {"deviceName": "sim", "cmdType": CALL_CMDS[d["state"]], "src": "outdoor"}
            alert = self._alert(
                "voiceTalkEvent", "Voice Talk Interactive Event", {"VoiceTalkEvent": talk}
            )
        elif event.kind in ("card", "tamper", "door"):
            if event.kind == "card":
                ace = {"majorEventType": 5, "subEventType": 1, "cardNo": str(d["number"])}
            elif event.kind == "tamper":
                ace = {"majorEventType": 1, "subEventType": 1034}
            else:
                ace = {"majorEventType": 5, "subEventType": 23 if d["open"] else 24,
                       "doorNo": d["relay"]}  # fmt: skip  # door open / closed (contact)
            alert = self._alert("AccessControllerEvent", "Access Controller Event",
                                {"AccessControllerEvent": {"deviceName": "sim", **ace}})  # fmt: skip
        elif event.kind in ("code", "input"):
            return b""  # no keypad codes or input changes on this model's alert stream
        else:
            alert = self._alert(d.get("name", "futureEvent"), "Unknown", {})
        body = json.dumps(alert).encode()
        return self._stream.part('application/json; charset="UTF-8"', body)

    def _heartbeat(self) -> bytes:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        xml = (
            f'<EventNotificationAlert version="2.0" xmlns="{XMLNS}"><ipAddress>127.0.0.1'
            f"</ipAddress><dateTime>{now}</dateTime><activePostCount>0</activePostCount>"
            "<eventType>videoloss</eventType><eventState>inactive</eventState>"
            "<eventDescription>videoloss alarm</eventDescription></EventNotificationAlert>"
        )
        return self._stream.part('application/xml; charset="UTF-8"', xml.encode())
