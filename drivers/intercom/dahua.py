"""Dahua VTO door stations over the HTTP CGI API: ``eventManager.cgi?action=attach``
(multipart, ``Code=...;action=...;index=...[;data={json}]`` text parts and ``Heartbeat``)
for events, ``accessControl.cgi?action=openDoor`` to open."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from drivers.intercom import observations as ob
from drivers.intercom.http import Refused, check_auth, read_bounded
from drivers.intercom.multipart import Part
from drivers.intercom.settings import Intercom
from drivers.intercom.stream import multipart_stream

HEARTBEAT_S = 5
CALLS = {
    ("Invite", "Start"): "ringing",
    ("Invite", "Pulse"): "ringing",
    ("CallAnswered", "Pulse"): "answered",
    ("Invite", "Stop"): "ended",
    ("HungupPhone", "Pulse"): "ended",
    ("CallNoAnswered", "Start"): "ended",
}
DOOR_STATUS = {"Open": True, "Close": False}  # DoorStatus data.Status
INPUT_ACTIONS = {"Start": True, "Stop": False}  # AlarmLocal: a local alarm input, index 0..
IGNORED = frozenset({"BackKeyLight", "VideoMotion", "SIPRegisterResult", "Invite"})


def parse_fields(text: str) -> dict[str, str]:
    """``Code=X;action=Y;index=0;data={...}``: the data value may hold ';' itself."""
    head, sep, data = text.partition(";data=")
    fields: dict[str, str] = {}
    for item in head.split(";"):
        key, eq, value = item.partition("=")
        if eq:
            fields[key.strip()] = value.strip()
    if sep:
        fields["data"] = data.strip()
    return fields


def decode_part(part: Part) -> list[ob.Observation]:
    try:
        text = part.body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return [ob.Unknown("part", malformed=True)]
    if text == "Heartbeat":
        return [ob.Heartbeat()]
    fields = parse_fields(text)
    code, action = fields.get("Code"), fields.get("action", "")
    if not code:
        return [ob.Unknown("part", malformed=True)]
    if state := CALLS.get((code, action)):
        return [ob.Call(state)]
    if code == "AccessControl":
        try:
            return [ob.Card(int(str(_data(fields).get("CardNo"))))]
        except ValueError:
            return [ob.Unknown("AccessControl", malformed=True)]
    if code == "DoorStatus":
        door = DOOR_STATUS.get(str(_data(fields).get("Status")))
        return [ob.Door(door)] if door is not None else [ob.Unknown(code, malformed=True)]
    if code == "AlarmLocal":
        index, active = fields.get("index", ""), INPUT_ACTIONS.get(action)
        if not index.isdigit() or len(index) > 3 or active is None:
            return [ob.Unknown(code, malformed=True)]
        return [ob.Input(f"input{int(index) + 1}", active)]
    if code == "ChassisIntruded":
        return [ob.Tamper()] if action in ("Start", "Pulse") else []
    if code in IGNORED:
        return []
    return [ob.Unknown(code[:64])]


def _data(fields: dict[str, str]) -> dict[str, Any]:
    """The part's ``data={json}`` object; empty if absent or not a JSON object."""
    try:
        data = json.loads(fields.get("data", ""))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class Dahua:
    def __init__(self, settings: Intercom) -> None:
        self.settings = settings

    def events(self, http: aiohttp.ClientSession) -> AsyncIterator[ob.Observation]:
        return multipart_stream(
            http,
            f"/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat={HEARTBEAT_S}",
            self.settings,
            decode_part,
        )

    async def open(self, http: aiohttp.ClientSession, relay: int) -> None:
        path = f"/cgi-bin/accessControl.cgi?action=openDoor&channel={relay}"
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        async with http.get(path, timeout=timeout) as response:
            check_auth(response, Refused)
            body = await read_bounded(response, 4096) or b""
        if response.status != 200 or body.strip() != b"OK":
            raise Refused(f"openDoor: HTTP {response.status}: {body[:80]!r}")
