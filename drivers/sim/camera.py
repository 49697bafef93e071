"""A simulated ONVIF camera: real SOAP 1.2 over HTTP (aiohttp), for tests and ``edgectl sim``.

Services: device (GetSystemDateAndTime, GetDeviceInformation, GetCapabilities,
GetServices), media (GetProfiles, GetSnapshotUri, GetStreamUri), PTZ (GetPresets,
GotoPreset, SetPreset, ContinuousMove, Stop, GotoHomePosition) and events
(CreatePullPointSubscription, PullMessages, Renew, Unsubscribe). Every request but
GetSystemDateAndTime needs a WS-UsernameToken digest that is valid at the camera's own,
possibly skewed, clock (``skew_s``).

``/snapshot.jpg`` serves generated JPEGs behind HTTP digest auth; ``GetStreamUri``
names an RTSP server on a port of its own (``drivers/sim/rtsp.py``) that streams the same
frames as RTP/JPEG, behind digest auth with the same account.

Faults are injected by setting attributes: ``frames.mode`` (frozen, black, defocused,
moved, or motion: someone walking across), ``snapshot_fault`` (not_jpeg, huge, slow),
``soap_delay_s``, ``soap_faults`` (operations answered with a SOAP fault), ``reply``
(malformed, bomb), ``pullpoint`` (False: no PullPoint support; CreatePullPointSubscription
is answered with ActionNotSupported), ``advertise_pullpoint`` (what GetCapabilities says,
if not ``pullpoint``: True with ``pullpoint`` False is a camera that claims PullPoint and
refuses it), ``rtsp.fault`` (stall, garbage), ``reboot()`` and ``inject(...)`` events.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiohttp import web

from drivers.sim import camera_soap as soap
from drivers.sim.camera_frames import FrameSource
from drivers.sim.digest_server import DigestGuard
from drivers.sim.rtsp import RtspServer

SnapshotFault = Literal["not_jpeg", "huge", "slow"] | None
ReplyFault = Literal["malformed", "bomb"] | None
EventKind = Literal["motion", "tamper", "input", "line"]
TOPICS: dict[EventKind, tuple[str, tuple[str, str], str]] = {
    "motion": (
        "tns1:RuleEngine/CellMotionDetector/Motion",
        ("VideoSourceConfigurationToken", "vsc"),
        "IsMotion",
    ),
    "tamper": (
        "tns1:RuleEngine/TamperDetector/Tamper",
        ("VideoSourceConfigurationToken", "vsc"),
        "IsTamper",
    ),
    "input": ("tns1:Device/Trigger/DigitalInput", ("InputToken", "input0"), "LogicalState"),
    "line": (
        "tns1:RuleEngine/LineDetector/Crossed",
        ("VideoSourceConfigurationToken", "vsc"),
        "ObjectId",
    ),
}
HUGE_BYTES = 50 * 1024 * 1024
REALM = "edgectl-sim-camera"
SIM_USER, SIM_PASSWORD = "admin", "secret"


@dataclass
class Subscription:
    id: str
    until: datetime  # camera time
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


@dataclass
class Ptz:
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    velocity: tuple[float, float, float] | None = None  # while a continuous move runs
    presets: dict[str, tuple[str, float, float, float]] = field(
        default_factory=lambda: {"1": ("home", 0.0, 0.0, 0.0), "2": ("lobby", 0.5, -0.2, 0.3)}
    )
    moves: list[str] = field(default_factory=list)  # every PTZ operation, in order


class SimCamera:
    def __init__(
        self,
        *,
        user: str = SIM_USER,
        password: str = SIM_PASSWORD,
        skew_s: float = 0.0,
        ptz: bool = True,
        model: str = "SimDome 360",
        width: int = 640,
        height: int = 360,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.user, self.password = user, password
        self.skew_s = skew_s
        self.has_ptz = ptz
        self.model = model
        self.width, self.height = width, height
        self.clock = clock
        self.frames = FrameSource(width, height)
        self.ptz = Ptz()
        self.subscriptions: dict[str, Subscription] = {}
        self.pullpoint = True
        self.advertise_pullpoint: bool | None = None  # None: as self.pullpoint
        self.max_subscription_s = 3600.0  # cameras cap the life they grant a subscription
        self.snapshot_fault: SnapshotFault = None
        self.soap_delay_s = 0.0
        self.soap_faults: set[str] = set()
        self.reply: ReplyFault = None
        self.ws_auth_failures = 0  # WS-Security refusals
        # HTTP digest (snapshots) and RTSP share the camera's account, which locks after
        # repeated wrong passwords as on real cameras
        self.guard = DigestGuard(user, password, REALM)
        self.rtsp = RtspServer(self.frames.next_jpeg, guard=self.guard)
        self.requests: list[str] = []  # SOAP operations served, in order
        self.snapshots = 0
        self.boots = 1
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/onvif/{service}", self._soap)
        app.router.add_post("/onvif/subscription/{sid}", self._soap)
        app.router.add_get("/snapshot.jpg", self._snapshot)
        self._runner = web.AppRunner(
            app, handle_signals=False, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await self.rtsp.start()

    async def stop(self) -> None:
        await self.rtsp.stop()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    @property
    def auth_failures(self) -> int:
        """Requests refused for wrong credentials: WS-Security, HTTP digest and RTSP."""
        return self.ws_auth_failures + self.guard.bad_attempts

    def camera_now(self) -> datetime:
        return self.clock() + timedelta(seconds=self.skew_s)

    # --- injection -------------------------------------------------------------------

    def reboot(self) -> None:
        """Subscriptions are lost, a move in progress stops."""
        self.subscriptions.clear()
        self.ptz.velocity = None
        self.boots += 1

    def inject(self, kind: EventKind, value: bool | str = True) -> int:
        """Queue an event for every live subscription; returns how many got it."""
        topic, source, name = TOPICS[kind]
        data = str(value).lower() if isinstance(value, bool) else value
        message = soap.notification(topic, self.camera_now(), source, (name, data))
        for sub in self.subscriptions.values():
            sub.queue.put_nowait(message)
        return len(self.subscriptions)

    # --- SOAP ------------------------------------------------------------------------

    async def _soap(self, request: web.Request) -> web.Response:
        try:
            req = soap.parse_request(await request.read())
        except soap.BadRequest as exc:
            return self._fault("ter:WellFormed", str(exc))
        self.requests.append(req.operation)
        if self.soap_delay_s:
            await asyncio.sleep(self.soap_delay_s)
        if self.reply == "bomb":
            return web.Response(body=soap.BOMB, content_type="application/soap+xml")
        if self.reply == "malformed":
            return web.Response(body=soap.MALFORMED, content_type="application/soap+xml")
        if req.operation in self.soap_faults:
            return self._fault("ter:Action", f"injected fault on {req.operation}", status=500)
        now = self.camera_now()
        if req.operation != "GetSystemDateAndTime":
            problem = soap.check_token(req.token, self.user, self.password, now, 300.0)
            if problem:
                self.ws_auth_failures += 1
                return self._fault("ter:NotAuthorized", f"Sender not authorized: {problem}")
        offered = self.pullpoint or req.operation != "CreatePullPointSubscription"
        handler = getattr(self, f"_op_{req.operation}", None) if offered else None
        if handler is None:
            return self._fault("ter:ActionNotSupported", f"{req.operation} is not supported")
        sid = request.match_info.get("sid")
        body = await handler(req, now, sid)
        if body is None:
            return self._fault("ter:InvalidArgVal", f"no such subscription {sid!r}")
        return web.Response(body=soap.envelope(body), content_type="application/soap+xml")

    @staticmethod
    def _fault(subcode: str, reason: str, status: int = 400) -> web.Response:
        return web.Response(
            body=soap.fault(subcode, reason), status=status, content_type="application/soap+xml"
        )

    async def _op_GetSystemDateAndTime(
        self, req: soap.Request, now: datetime, sid: str | None
    ) -> str:
        return soap.date_time(now)

    async def _op_GetDeviceInformation(
        self, req: soap.Request, now: datetime, sid: str | None
    ) -> str:
        return soap.device_information(self.model, f"SIM{self.port}")

    async def _op_GetCapabilities(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        advertised = (
            self.pullpoint if self.advertise_pullpoint is None else self.advertise_pullpoint
        )
        return soap.capabilities(self.base, self.has_ptz, advertised)

    async def _op_GetServices(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        return soap.services(self.base, self.has_ptz)

    async def _op_GetProfiles(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        return soap.profiles(self.width, self.height, self.has_ptz)

    async def _op_GetSnapshotUri(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        return soap.media_uri("GetSnapshotUri", f"{self.base}/snapshot.jpg")

    async def _op_GetStreamUri(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        return soap.media_uri("GetStreamUri", self.rtsp.url)

    # PTZ

    async def _op_GetPresets(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        return soap.presets(self.ptz.presets)

    async def _op_GotoPreset(self, req: soap.Request, now: datetime, sid: str | None) -> str | None:
        token = soap.find_text(req.body, "PresetToken") or ""
        if token not in self.ptz.presets:
            return None
        _, self.ptz.pan, self.ptz.tilt, self.ptz.zoom = self.ptz.presets[token]
        self.ptz.moves.append(f"goto:{token}")
        return "<tptz:GotoPresetResponse/>"

    async def _op_SetPreset(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        token = soap.find_text(req.body, "PresetToken") or str(len(self.ptz.presets) + 1)
        name = soap.find_text(req.body, "PresetName") or f"preset {token}"
        self.ptz.presets[token] = (name, self.ptz.pan, self.ptz.tilt, self.ptz.zoom)
        self.ptz.moves.append(f"set:{token}")
        return f"<tptz:SetPresetResponse><tptz:PresetToken>{token}</tptz:PresetToken></tptz:SetPresetResponse>"

    async def _op_ContinuousMove(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        x = float(soap.find_attr(req.body, "PanTilt", "x") or 0)
        y = float(soap.find_attr(req.body, "PanTilt", "y") or 0)
        z = float(soap.find_attr(req.body, "Zoom", "x") or 0)
        self.ptz.velocity = (x, y, z)
        self.ptz.moves.append(f"move:{x},{y},{z}")
        return "<tptz:ContinuousMoveResponse/>"

    async def _op_Stop(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        self.ptz.velocity = None
        self.ptz.moves.append("stop")
        return "<tptz:StopResponse/>"

    async def _op_GotoHomePosition(self, req: soap.Request, now: datetime, sid: str | None) -> str:
        self.ptz.pan = self.ptz.tilt = self.ptz.zoom = 0.0
        self.ptz.moves.append("home")
        return "<tptz:GotoHomePositionResponse/>"

    # events

    async def _op_CreatePullPointSubscription(
        self, req: soap.Request, now: datetime, sid: str | None
    ) -> str:
        sub = Subscription(secrets.token_hex(6), self._until(req, "InitialTerminationTime", now))
        self.subscriptions[sub.id] = sub
        address = f"{self.base}/onvif/subscription/{sub.id}"
        return soap.subscription("CreatePullPointSubscription", address, now, sub.until)

    def _until(self, req: soap.Request, element: str, now: datetime) -> datetime:
        asked = soap.termination(soap.find_text(req.body, element), now, 60)
        return min(asked, now + timedelta(seconds=self.max_subscription_s))

    def _live(self, sid: str | None, now: datetime) -> Subscription | None:
        sub = self.subscriptions.get(sid or "")
        if sub is not None and sub.until < now:
            del self.subscriptions[sub.id]
            return None
        return sub

    async def _op_PullMessages(
        self, req: soap.Request, now: datetime, sid: str | None
    ) -> str | None:
        sub = self._live(sid, now)
        if sub is None:
            return None
        wait = min(soap.duration_s(soap.find_text(req.body, "Timeout"), 5.0), 20.0)
        limit = int(soap.find_text(req.body, "MessageLimit") or 10)
        messages: list[str] = []
        try:
            async with asyncio.timeout(wait):
                messages.append(await sub.queue.get())
        except TimeoutError:
            pass
        while messages and len(messages) < limit and not sub.queue.empty():
            messages.append(sub.queue.get_nowait())
        if sub.id not in self.subscriptions:  # rebooted while the pull waited
            return None
        return soap.pulled(self.camera_now(), sub.until, messages)

    async def _op_Renew(self, req: soap.Request, now: datetime, sid: str | None) -> str | None:
        sub = self._live(sid, now)
        if sub is None:
            return None
        sub.until = self._until(req, "TerminationTime", now)
        return soap.renewed(now, sub.until)

    async def _op_Unsubscribe(
        self, req: soap.Request, now: datetime, sid: str | None
    ) -> str | None:
        if self.subscriptions.pop(sid or "", None) is None:
            return None
        return "<wsnt:UnsubscribeResponse/>"

    async def _op_SetSynchronizationPoint(
        self, req: soap.Request, now: datetime, sid: str | None
    ) -> str:
        return "<tev:SetSynchronizationPointResponse/>"

    # --- HTTP snapshots, behind digest auth ------------------------------------------

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        refusal = self.guard.check(request)
        if refusal is not None:
            return refusal
        self.snapshots += 1
        if self.snapshot_fault == "slow":
            await asyncio.sleep(30)
        if self.snapshot_fault == "not_jpeg":
            return web.Response(body=b"<html>camera busy</html>", content_type="image/jpeg")
        if self.snapshot_fault == "huge":
            response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            response.content_length = HUGE_BYTES
            await response.prepare(request)
            chunk = b"\xff\xd8" + bytes(1024 * 1024 - 2)
            for _ in range(HUGE_BYTES // len(chunk)):
                await response.write(chunk)
                chunk = bytes(len(chunk))
            return response
        return web.Response(body=self.frames.next_jpeg(), content_type="image/jpeg")
