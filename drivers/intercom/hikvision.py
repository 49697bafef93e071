"""Hikvision door stations over ISAPI: ``alertStream`` (multipart/mixed, XML or JSON
``EventNotificationAlert`` parts) for events, ``RemoteControl/door/{n}`` to open.

XML is parsed with defusedxml only: the device is on the network, so its XML is untrusted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import defusedxml.ElementTree as SafeET

from drivers.intercom.http import Refused, check_auth, read_bounded
from drivers.intercom.multipart import Part
from drivers.intercom.observations import (
    Call,
    Card,
    Door,
    Heartbeat,
    Observation,
    Tamper,
    Unknown,
)
from drivers.intercom.settings import Intercom
from drivers.intercom.stream import multipart_stream

# VoiceTalkEvent.cmdType -> call state
CALL_CMDS = {
    "request": "ringing",
    "answer": "answered",
    "cancel": "ended",
    "hangUp": "ended",
    "reject": "ended",
    "bellTimeout": "ended",
}
MAJOR_ALARM, MAJOR_EVENT = 1, 5
SUB_TAMPER = 1034
SUB_CARD = frozenset({1, 9})  # card presented (valid / not registered on the device)
SUB_LOCK = frozenset({21, 22})  # door unlocked, locked: the lock relay, not the door
SUB_DOOR = {23: True, 24: False}  # door open, closed (the door's magnetic contact)
IDLE = frozenset({"videoloss", "heartBeat"})


def _alert_from_xml(body: bytes) -> dict[str, Any] | None:
    try:
        root = SafeET.fromstring(body)
    except (SafeET.ParseError, ValueError):
        return None
    return {_local(child.tag): (child.text or "").strip() for child in root if not len(child)} | {
        "_root": _local(root.tag)
    }


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def decode_part(part: Part) -> list[Observation]:
    body = part.body.strip()
    alert: Any
    if body.startswith(b"<"):
        alert = _alert_from_xml(body)
    else:
        try:
            alert = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            alert = None
    if not isinstance(alert, dict):
        return [Unknown("alert", malformed=True)]
    event_type = alert.get("eventType")
    if not isinstance(event_type, str):
        return [Unknown("alert", malformed=True)]
    if event_type in IDLE:
        return [Heartbeat()]
    if event_type == "voiceTalkEvent":
        talk = alert.get("VoiceTalkEvent")
        state = CALL_CMDS.get(talk.get("cmdType", "")) if isinstance(talk, dict) else None
        return [Call(state)] if state else [Unknown("voiceTalkEvent", malformed=True)]
    if event_type == "AccessControllerEvent":
        ace = alert.get("AccessControllerEvent")
        return _access_event(ace) if isinstance(ace, dict) else [Unknown(event_type, True)]
    return [Unknown(event_type[:64])]


def _access_event(ace: dict[str, Any]) -> list[Observation]:
    major, sub = ace.get("majorEventType"), ace.get("subEventType")
    if not isinstance(major, int) or not isinstance(sub, int):
        return [Unknown("AccessControllerEvent", malformed=True)]
    if major == MAJOR_EVENT and sub in SUB_CARD:
        try:
            return [Card(int(str(ace.get("cardNo"))))]
        except ValueError:
            return [Unknown("AccessControllerEvent", malformed=True)]
    if major == MAJOR_ALARM and sub == SUB_TAMPER:
        return [Tamper()]
    if major == MAJOR_EVENT and sub in SUB_DOOR:
        return [Door(SUB_DOOR[sub])]
    if major == MAJOR_EVENT and sub in SUB_LOCK:
        return []
    return [Unknown(f"AccessControllerEvent:{major}/{sub}"[:64])]


def open_body() -> str:
    return "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>"


def status_of(body: bytes) -> tuple[int | None, str]:
    """statusCode and statusString of a ResponseStatus document."""
    try:
        root = SafeET.fromstring(body)
    except (SafeET.ParseError, ValueError):
        return None, "unreadable reply"
    code = root.findtext(".//{*}statusCode") or ""
    return (int(code) if code.isdigit() else None), root.findtext(".//{*}statusString") or ""


class Hikvision:
    def __init__(self, settings: Intercom) -> None:
        self.settings = settings

    def events(self, http: aiohttp.ClientSession) -> AsyncIterator[Observation]:
        return multipart_stream(
            http, "/ISAPI/Event/notification/alertStream", self.settings, decode_part
        )

    async def open(self, http: aiohttp.ClientSession, relay: int) -> None:
        path = f"/ISAPI/AccessControl/RemoteControl/door/{relay}"
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        headers = {"Content-Type": "application/xml"}
        async with http.put(path, data=open_body(), headers=headers, timeout=timeout) as response:
            check_auth(response, Refused)
            body = await read_bounded(response, self.settings.max_part_bytes) or b""
        code, text = status_of(body)
        if response.status != 200 or code != 1:
            raise Refused(f"ISAPI HTTP {response.status}, statusCode {code}: {text}")
