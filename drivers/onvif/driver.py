"""The ONVIF camera driver: one camera, its session, frames, PTZ, events and health.

``run`` keeps the camera connected: it reconnects with backoff after a failure and
reports offline/online; refused credentials are reported as ``camera_auth_failed`` and
retried only after ``auth_backoff_s``, so a wrong password never locks the camera's
account. While connected, three tasks run side by side: the camera's events, the
picture health checks and a keep-alive; the first to fail ends the connection.

Events come over a PullPoint subscription. A camera that offers none (capabilities) or
refuses one (a SOAP fault to CreatePullPointSubscription) is polled instead: motion from
the difference between consecutive frames (``motion.py``), for the rest of the connection.
The health checks and the motion polling share their frames (``feed.py``).

Frames are grabbed on request (``CaptureEvidence``) from the snapshot URI or a warm
stream, stored in the evidence store off the event loop, and reported by id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from drivers.base import DeviceError, Emit, Health, SingleDevice
from drivers.onvif import health as picture
from drivers.onvif import motion
from drivers.onvif.events import PullPoint, parse
from drivers.onvif.feed import FrameFeed
from drivers.onvif.frames import FrameRefused, SnapshotClient, WarmStream
from drivers.onvif.metrics import FRAMES
from drivers.onvif.ptz import Ptz
from drivers.onvif.session import (
    CameraAuthError,
    CameraError,
    CameraInfo,
    CameraRefused,
    OnvifSession,
)
from drivers.onvif.settings import Camera
from edgectl.domain import (
    CameraAuthFailed,
    CameraEvent,
    CameraFault,
    CameraIdentified,
    CaptureEvidence,
    Command,
    DeviceOffline,
    DeviceOnline,
    Event,
    EvidenceCaptured,
    EvidenceFailed,
    PtzGotoPreset,
    PtzHome,
    PtzMove,
    PtzStop,
)
from edgectl.store.evidence import EvidenceRefused, EvidenceStore

log = structlog.get_logger(__name__)


def _drop(_: Event) -> None:
    return None


class CameraDriver(SingleDevice):
    def __init__(
        self,
        settings: Camera,
        store: EvidenceStore,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.id = settings.id
        self.settings = settings
        self.store = store
        self.clock = clock
        self.info: CameraInfo | None = None
        self.faults: frozenset[str] = frozenset()
        self._emit: Emit = _drop
        self._session: OnvifSession | None = None
        self._snapshots: SnapshotClient | None = None
        self._stream: WarmStream | None = None
        self._feed: FrameFeed | None = None
        self._identified: CameraIdentified | None = None
        self._ptz: Ptz | None = None

    # --- connection ------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        backoff = self.settings.backoff_s
        while True:
            session = OnvifSession(self.settings)
            wait = backoff
            try:
                info = await session.connect()
                await self._online(session, info)
                backoff = self.settings.backoff_s
                await self._connected()
            except CameraAuthError as exc:
                wait = self.settings.auth_backoff_s
                self._offline(str(exc), wait)
                emit(
                    CameraAuthFailed(
                        source=self.id, at=self.clock(), error=str(exc), retry_in_s=wait
                    )
                )
                log.error("camera_auth_failed", camera=self.id, error=str(exc), retry_in_s=wait)
            except CameraError as exc:
                backoff = min(backoff * 2, self.settings.backoff_max_s)
                self._offline(str(exc), wait)
            finally:
                await self._disconnect(session)
            await asyncio.sleep(wait)

    async def _online(self, session: OnvifSession, info: CameraInfo) -> None:
        cfg = self.settings
        self._session, self.info = session, info
        max_bytes = int(self.store.max_frame)
        self._snapshots = SnapshotClient(cfg.username, cfg.password, max_bytes, cfg.timeout_s)
        self._feed = FrameFeed(self.id, self._jpeg)
        if info.stream_uri and (
            cfg.grab == "stream" or (cfg.grab == "auto" and not info.snapshot_uri)
        ):
            self._stream = WarmStream(info.stream_uri, cfg.username, cfg.password, cfg.timeout_s)
            self._stream.start()
        if info.ptz:
            self._ptz = Ptz(session, info.profile, cfg.ptz_max_move_s)
        now = self.clock()
        self._identified = CameraIdentified(
            source=self.id,
            at=now,
            manufacturer=info.manufacturer,
            model=info.model,
            firmware=info.firmware,
            clock_skew_s=info.clock_skew_s,
            snapshot=info.snapshot_uri is not None,
            ptz=info.ptz,
            events="pullpoint" if info.pullpoint else "polling",
        )
        self._emit(self._identified)
        self._emit(DeviceOnline(source=self.id, at=now))
        self._health = Health(True, f"{info.manufacturer} {info.model}")
        log.info("camera_online", camera=self.id, model=info.model, skew_s=info.clock_skew_s)

    def _offline(self, error: str, retry_in_s: float) -> None:
        was_online = self._health.online or self._health.detail == "not started"
        self._health = Health(False, error)
        if was_online:
            self._emit(
                DeviceOffline(source=self.id, at=self.clock(), error=error, retry_in_s=retry_in_s)
            )
        log.warning("camera_offline", camera=self.id, error=error, retry_in_s=retry_in_s)

    async def _disconnect(self, session: OnvifSession) -> None:
        self._session = None
        self._feed = None
        if self._ptz:
            await self._ptz.close()
            self._ptz = None
        if self._stream:
            await self._stream.stop()
            self._stream = None
        if self._snapshots:
            await self._snapshots.close()
            self._snapshots = None
        await session.close()

    async def _connected(self) -> None:
        """Run the connected tasks until one fails; re-raise its error."""
        jobs: list[Coroutine[Any, Any, None]] = [self._keepalive()]
        if self.settings.events:
            jobs.append(self._events())
        if self.settings.health.enabled:
            jobs.append(self._health_checks())
        tasks = [asyncio.create_task(job, name=f"camera:{self.id}") for job in jobs]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _keepalive(self) -> None:
        assert self._session is not None
        while True:
            await asyncio.sleep(self.settings.keepalive_s)
            await self._session.alive()

    # --- events ----------------------------------------------------------------------

    async def _events(self) -> None:
        session = self._session
        assert session is not None and self.info is not None
        if not self.info.pullpoint:
            return await self._poll_motion("the camera offers no PullPoint")
        while True:
            pullpoint = PullPoint(session)
            try:
                await pullpoint.subscribe()  # another failure ends the connection: reconnect
            except CameraRefused as exc:  # a SOAP fault: this camera will not
                return await self._poll_motion(f"PullPoint refused: {exc}")
            try:
                async for batch in pullpoint.messages():
                    for message in batch:
                        for parsed in await parse(self.id, message):
                            self._emit(
                                CameraEvent(source=self.id, at=self.clock(), **asdict(parsed))
                            )
            except CameraAuthError:
                raise
            except CameraError as exc:  # a reboot drops subscriptions: make a new one
                log.info("camera_resubscribe", camera=self.id, error=str(exc))

    async def _poll_motion(self, reason: str) -> None:
        """Motion from frame differences, as ``camera_event`` motion begin/end; forever."""
        assert self._feed is not None and self._identified is not None
        cfg = self.settings.motion
        ident = self._identified
        detail = f"{ident.manufacturer} {ident.model}; events by polling ({reason})"
        self._health = Health(True, detail)
        log.warning("camera_events_polling", camera=self.id, reason=reason)
        if ident.events != "polling":  # the journal is told how events now come
            self._identified = replace(ident, at=self.clock(), events="polling")
            self._emit(self._identified)
        state = motion.MotionState()
        async for frame in self._feed.watch("motion", cfg.poll_interval_s):
            state, changes = motion.check(state, motion.prepare(frame.grey), frame.at_s, cfg)
            for change in changes:
                log.info("camera_motion", camera=self.id, active=change.active, share=change.share)
                self._emit(
                    CameraEvent(
                        source=self.id,
                        at=self.clock(),
                        kind="motion",
                        name=motion.NAME,
                        topic=motion.TOPIC,
                        active=change.active,
                    )
                )

    # --- frames ----------------------------------------------------------------------

    async def grab(self) -> tuple[bytes, str]:
        """A JPEG from the camera now, and which path gave it (snapshot or stream)."""
        if self._stream is not None:
            return await self._stream.jpeg(self.settings.timeout_s), "stream"
        if self._snapshots is None or self.info is None or not self.info.snapshot_uri:
            raise FrameRefused("unreachable", "camera offline or without a frame source")
        return await self._snapshots.get(self.info.snapshot_uri), "snapshot"

    async def _jpeg(self) -> bytes:
        jpeg, _ = await self.grab()
        return jpeg

    def _evidence_failed(self, command: CaptureEvidence, error: str) -> None:
        self._emit(
            EvidenceFailed(
                source=self.id,
                at=self.clock(),
                trigger=command.trigger,
                ref=command.ref,
                error=error,
            )
        )

    async def capture(self, command: CaptureEvidence) -> int:
        """Grab and store a frame under the command's id; report it; return its size."""
        try:
            jpeg, path = await self.grab()
            await asyncio.to_thread(self.store.put, command.evidence_id, jpeg)
        except (FrameRefused, EvidenceRefused, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, FrameRefused) else "refused"
            FRAMES.labels(self.id, reason).inc()
            error = str(exc) or "timed out"
            self._evidence_failed(command, error)
            raise DeviceError(f"{self.id}: no frame: {error}") from None
        FRAMES.labels(self.id, "stored").inc()
        self._emit(
            EvidenceCaptured(
                source=self.id,
                at=self.clock(),
                evidence_id=command.evidence_id,
                trigger=command.trigger,
                ref=command.ref,
                bytes=len(jpeg),
                path=path,
            )
        )
        return len(jpeg)

    # --- health ----------------------------------------------------------------------

    def _reference_path(self) -> Path:
        return self.store.path / f"reference-{self.id}.npy"

    def _load_reference(self) -> picture.Thumb | None:
        try:
            ref = np.load(self._reference_path())
        except (OSError, ValueError):
            return None
        return ref.astype(np.float32) if ref.shape == picture.THUMB[::-1] else None

    async def _health_checks(self) -> None:
        assert self._feed is not None
        cfg = self.settings.health
        state = picture.HealthState(reference=await asyncio.to_thread(self._load_reference))
        async for frame in self._feed.watch("health", cfg.interval_s):
            had_reference = state.reference is not None
            measures = picture.measure(frame.grey)
            state, changes = picture.check(state, measures, frame.at_s, cfg)
            if not had_reference and state.reference is not None:
                await asyncio.to_thread(np.save, self._reference_path(), state.reference)
            self.faults = state.active
            for change in changes:
                self._emit(CameraFault(source=self.id, at=self.clock(), **asdict(change)))

    # --- commands --------------------------------------------------------------------

    def ptz(self) -> Ptz:
        if self._ptz is None:
            raise DeviceError(f"{self.id}: offline or has no PTZ")
        return self._ptz

    async def presets(self) -> list[dict[str, str]]:
        try:
            return await self.ptz().presets()
        except CameraError as exc:
            raise DeviceError(f"{self.id}: {exc}") from None

    async def set_preset(self, name: str, preset: str = "") -> str:
        """Store the dome's current position as preset ``name``; returns its token."""
        try:
            return await self.ptz().set_preset(name, preset)
        except CameraError as exc:
            raise DeviceError(f"{self.id}: {exc}") from None

    async def execute(self, command: Command) -> None:
        if self._session is None:
            error = f"camera offline ({self._health.detail})"
            if isinstance(command, CaptureEvidence):  # the missing frame is on record
                self._evidence_failed(command, error)
            raise DeviceError(f"{self.id}: {error}")
        try:
            if isinstance(command, CaptureEvidence):
                await self.capture(command)
            elif isinstance(command, PtzMove):
                await self.ptz().move(command.pan, command.tilt, command.zoom, command.seconds)
            elif isinstance(command, PtzStop):
                await self.ptz().stop()
            elif isinstance(command, PtzGotoPreset):
                await self.ptz().goto_preset(command.preset)
            elif isinstance(command, PtzHome):
                await self.ptz().home()
            else:
                raise DeviceError(f"{self.id}: a camera cannot {command.KIND}")
        except CameraError as exc:
            raise DeviceError(f"{self.id}: {exc}") from None
