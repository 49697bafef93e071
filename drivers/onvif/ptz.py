"""PTZ for dome cameras: presets, home, continuous moves that always stop.

An operator's connection can drop in the middle of a move, so a continuous move is sent
with the ONVIF ``Timeout`` (the camera stops by itself if it honours it) and our own timer
sends ``Stop`` after the same bounded time. A new move replaces the timer; a stop
cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from drivers.onvif.session import SETUP_S, CameraError, OnvifSession

log = structlog.get_logger(__name__)


class Ptz:
    def __init__(self, session: OnvifSession, profile: str, max_move_s: float) -> None:
        self.session = session
        self.profile = profile
        self.max_move_s = max_move_s
        self._service: Any = None
        self._autostop: asyncio.Task[None] | None = None

    async def _ptz(self) -> Any:
        if self._service is None:
            self._service = await self.session.call(
                "ptz service", self.session.camera.create_ptz_service(), SETUP_S
            )
        return self._service

    async def presets(self) -> list[dict[str, str]]:
        ptz = await self._ptz()
        found = await self.session.call(
            "GetPresets", ptz.GetPresets({"ProfileToken": self.profile})
        )
        return [{"token": str(p.token), "name": str(p.Name or "")} for p in found or []]

    async def goto_preset(self, preset: str) -> None:
        ptz = await self._ptz()
        await self.session.call(
            "GotoPreset", ptz.GotoPreset({"ProfileToken": self.profile, "PresetToken": preset})
        )

    async def set_preset(self, name: str, preset: str = "") -> str:
        ptz = await self._ptz()
        request = {"ProfileToken": self.profile, "PresetName": name}
        if preset:
            request["PresetToken"] = preset
        reply = await self.session.call("SetPreset", ptz.SetPreset(request))
        return str(reply)

    async def home(self) -> None:
        ptz = await self._ptz()
        await self.session.call(
            "GotoHomePosition", ptz.GotoHomePosition({"ProfileToken": self.profile})
        )

    async def move(self, pan: float, tilt: float, zoom: float, seconds: float) -> float:
        """Start a continuous move; returns the bounded time after which it stops."""
        seconds = max(0.1, min(seconds, self.max_move_s))
        ptz = await self._ptz()
        self._cancel_autostop()
        await self.session.call(
            "ContinuousMove",
            ptz.ContinuousMove(
                {
                    "ProfileToken": self.profile,
                    "Velocity": {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}},
                    "Timeout": f"PT{seconds:.1f}S",
                }
            ),
        )
        self._autostop = asyncio.create_task(self._stop_after(seconds), name="ptz-autostop")
        return seconds

    async def stop(self) -> None:
        self._cancel_autostop()
        ptz = await self._ptz()
        await self.session.call(
            "Stop", ptz.Stop({"ProfileToken": self.profile, "PanTilt": True, "Zoom": True})
        )

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._autostop = None
        try:
            await self.stop()
            log.info("ptz_autostop", profile=self.profile, after_s=seconds)
        except CameraError as exc:
            log.warning("ptz_autostop_failed", error=str(exc))

    def _cancel_autostop(self) -> None:
        task, self._autostop = self._autostop, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self) -> None:
        task, self._autostop = self._autostop, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
