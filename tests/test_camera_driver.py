"""The ONVIF camera driver against the simulated camera: connect, faults, frames, PTZ, events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from drivers.base import DeviceError
from drivers.onvif.metrics import FRAMES
from drivers.onvif.settings import HealthSettings
from drivers.sim.camera import SimCamera
from edgectl.domain import (
    CameraAuthFailed,
    CameraEvent,
    CameraFault,
    CameraIdentified,
    CaptureEvidence,
    DeviceOffline,
    DeviceOnline,
    EvidenceCaptured,
    EvidenceFailed,
    PtzGotoPreset,
    PtzHome,
    PtzMove,
    PtzStop,
)
from edgectl.store.evidence import new_id
from tests.camera_rig import camera_rig, until


def capture(camera: str = "cam1", trigger: str = "operator") -> CaptureEvidence:
    from datetime import UTC, datetime

    return CaptureEvidence(
        target=camera, evidence_id=new_id(camera, datetime.now(UTC)), trigger=trigger, ref="test"
    )


async def test_connects_to_a_skewed_camera_and_reports_what_it_is(tmp_path: Path) -> None:
    async with camera_rig(tmp_path) as rig:
        ident = await rig.wait(CameraIdentified)
        await rig.wait(DeviceOnline)
        assert ident.model == "SimDome 360" and ident.ptz and ident.snapshot
        assert ident.events == "pullpoint"
        assert abs(ident.clock_skew_s - 3600) < 2
        assert rig.sim.auth_failures == 0  # every token was signed with the camera's clock


async def test_wrong_credentials_fail_once_and_back_off(tmp_path: Path) -> None:
    async with camera_rig(tmp_path, password="wrong", auth_backoff_s=300.0) as rig:
        failed = await rig.wait(CameraAuthFailed)
        assert failed.retry_in_s == 300.0 and "not authorized" in failed.error.lower()
        await rig.wait(DeviceOffline)
        # The normal reconnect delay here is 0.1 s: in 1 s it would have tried ~10 times.
        await asyncio.sleep(1.0)
        assert rig.sim.auth_failures == 1
        assert len(rig.of(CameraAuthFailed)) == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("slow", "timed out"),
        ("malformed", "malformed"),
        ("bomb", "DTDForbidden"),
        ("fault", "SOAP fault"),
    ],
)
async def test_a_misbehaving_camera_is_offline_quickly_and_others_carry_on(
    tmp_path: Path, fault: str, error: str
) -> None:
    bad = SimCamera()
    await bad.start()
    if fault == "slow":
        bad.soap_delay_s = 30
    elif fault == "fault":
        bad.soap_faults = {"GetProfiles"}
    else:
        bad.reply = fault  # type: ignore[assignment]
    async with (
        camera_rig(tmp_path / "bad", bad, timeout_s=0.5) as broken,
        camera_rig(tmp_path / "good") as good,
    ):
        started = time.monotonic()
        offline = await broken.wait(DeviceOffline)
        assert error in offline.error
        assert time.monotonic() - started < 3.0
        await good.wait(DeviceOnline)
        await good.driver.execute(capture())
        assert len(good.of(EvidenceCaptured)) == 1


async def test_a_frame_is_stored_and_reported_by_id(tmp_path: Path) -> None:
    async with camera_rig(tmp_path) as rig:
        await rig.wait(DeviceOnline)
        command = capture(trigger="access")
        await rig.driver.execute(command)
        done = await rig.wait(EvidenceCaptured)
        assert done.evidence_id == command.evidence_id and done.path == "snapshot"
        stored = rig.store.get(command.evidence_id)
        assert stored is not None and stored[:2] == b"\xff\xd8" and len(stored) == done.bytes


@pytest.mark.parametrize(("fault", "reason"), [("not_jpeg", "not_jpeg"), ("huge", "too_large")])
async def test_a_bad_snapshot_is_refused_and_counted(
    tmp_path: Path, fault: str, reason: str
) -> None:
    async with camera_rig(tmp_path) as rig:
        await rig.wait(DeviceOnline)
        rig.sim.snapshot_fault = fault  # type: ignore[assignment]
        before = FRAMES.labels("cam1", reason)._value.get()
        started = time.monotonic()
        with pytest.raises(DeviceError, match=reason):
            await rig.driver.execute(capture())
        assert time.monotonic() - started < 2.0
        failed = await rig.wait(EvidenceFailed)
        assert reason in failed.error
        assert FRAMES.labels("cam1", reason)._value.get() == before + 1
        assert rig.store.ids() == []


async def test_reconnects_after_the_camera_comes_back(tmp_path: Path) -> None:
    sim = SimCamera()
    await sim.start()
    port = sim.port
    async with camera_rig(tmp_path, sim) as rig:
        await rig.wait(DeviceOnline)
        await sim.stop()
        offline = await rig.wait(DeviceOffline)
        assert offline.retry_in_s is not None
        await sim.start(port)
        await until(lambda: len(rig.of(DeviceOnline)) == 2)
        await rig.driver.execute(capture())


async def test_a_ptz_move_stops_by_itself(tmp_path: Path) -> None:
    async with camera_rig(tmp_path, ptz_max_move_s=0.5) as rig:
        await rig.wait(DeviceOnline)
        await rig.driver.execute(PtzMove(target="cam1", pan=0.5, tilt=0.0, seconds=60))
        assert rig.sim.ptz.velocity == (0.5, 0.0, 0.0)
        started = time.monotonic()
        await until(lambda: rig.sim.ptz.velocity is None)  # no stop was ever sent by us
        assert 0.4 < time.monotonic() - started < 3.0
        assert rig.sim.ptz.moves[-1] == "stop"


async def test_ptz_presets_goto_set_and_stop(tmp_path: Path) -> None:
    async with camera_rig(tmp_path) as rig:
        await rig.wait(DeviceOnline)
        ptz = rig.driver.ptz()
        assert {"token": "2", "name": "lobby"} in await ptz.presets()
        await rig.driver.execute(PtzGotoPreset(target="cam1", preset="2"))
        assert (rig.sim.ptz.pan, rig.sim.ptz.tilt) == (0.5, -0.2)
        token = await ptz.set_preset("gate view")
        assert rig.sim.ptz.presets[token][0] == "gate view"
        await rig.driver.execute(PtzMove(target="cam1", pan=0.0, tilt=0.3, seconds=5))
        await rig.driver.execute(PtzStop(target="cam1"))
        assert rig.sim.ptz.velocity is None
        with pytest.raises(DeviceError, match="SOAP fault"):
            await rig.driver.execute(PtzGotoPreset(target="cam1", preset="99"))


async def test_camera_events_arrive_and_survive_a_reboot(tmp_path: Path) -> None:
    async with camera_rig(tmp_path) as rig:
        await rig.wait(DeviceOnline)
        await until(lambda: rig.sim.subscriptions)
        rig.sim.inject("motion")
        motion = await rig.wait(CameraEvent)
        assert (motion.kind, motion.active) == ("motion", True)
        rig.sim.reboot()
        await until(lambda: rig.sim.subscriptions)  # subscribed again
        rig.sim.inject("input")
        rig.sim.inject("tamper", False)
        beam = await rig.wait(CameraEvent, lambda e: e.kind == "input")
        assert beam.active and beam.topic == "tns1:Device/Trigger/DigitalInput"
        tamper = await rig.wait(CameraEvent, lambda e: e.kind == "tamper")
        assert not tamper.active


async def test_offline_camera_refuses_commands_clearly(tmp_path: Path) -> None:
    sim = SimCamera(password="other")
    await sim.start()
    async with camera_rig(tmp_path, sim) as rig:
        await rig.wait(CameraAuthFailed)
        with pytest.raises(DeviceError, match="offline"):
            await rig.driver.execute(capture(trigger="access"))
        missing = await rig.wait(EvidenceFailed)
        assert missing.trigger == "access" and "offline" in missing.error


async def test_health_checks_raise_and_clear_camera_faults(tmp_path: Path) -> None:
    checks = HealthSettings(interval_s=0.05, frozen_s=0.5, confirm=2)
    async with camera_rig(tmp_path, health=checks) as rig:
        await rig.wait(DeviceOnline)
        await until(lambda: (tmp_path / "evidence" / "reference-cam1.npy").exists())
        rig.sim.frames.mode = "black"
        black = await rig.wait(CameraFault, lambda e: e.fault == "black")
        assert black.active and black.measure < black.threshold
        rig.sim.frames.mode = "normal"
        await rig.wait(CameraFault, lambda e: e.fault == "black" and not e.active)
        rig.sim.frames.mode = "frozen"
        frozen = await rig.wait(CameraFault, lambda e: e.fault == "frozen")
        assert frozen.active and frozen.measure >= 0.5
        rig.sim.frames.mode = "moved"
        moved = await rig.wait(CameraFault, lambda e: e.fault == "moved")
        assert moved.active and moved.measure > moved.threshold
        assert "moved" in rig.driver.faults


async def test_a_short_subscription_is_renewed_before_it_expires(tmp_path: Path) -> None:
    sim = SimCamera()
    sim.max_subscription_s = 6.0  # renewed at 80%: after ~5 s
    await sim.start()
    async with camera_rig(tmp_path, sim) as rig:
        await rig.wait(DeviceOnline)
        await until(lambda: sim.subscriptions)
        first, created = set(sim.subscriptions), time.monotonic()
        await until(lambda: "Renew" in sim.requests, timeout=15)
        await until(lambda: time.monotonic() - created > 7, timeout=15)  # past the first grant
        sim.inject("line", "17")
        crossed = await rig.wait(CameraEvent)
        assert crossed.kind == "line"
        assert set(sim.subscriptions) == first  # the same subscription, kept alive
        assert sim.requests.count("CreatePullPointSubscription") == 1


async def test_a_camera_without_snapshots_gives_frames_from_a_warm_stream(tmp_path: Path) -> None:
    # the stream opens in about a second (RTSP, then FFmpeg probes 20 frames)
    async with camera_rig(tmp_path, grab="stream", timeout_s=5.0) as rig:
        await rig.wait(DeviceOnline)
        await rig.driver.execute(capture())
        done = await rig.wait(EvidenceCaptured)
        assert done.path == "stream"
        assert (rig.store.get(done.evidence_id) or b"")[:2] == b"\xff\xd8"
        assert rig.sim.snapshots == 0  # the snapshot URI was never used
        await rig.driver.execute(PtzHome(target="cam1"))
        assert rig.sim.ptz.moves[-1] == "home"
