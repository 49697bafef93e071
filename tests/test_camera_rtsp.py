"""Evidence over RTSP: a camera without a snapshot URI, through the driver's OpenCV path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import DeviceError
from drivers.onvif.frames import with_credentials
from drivers.onvif.settings import HealthSettings
from drivers.sim.camera import SimCamera
from edgectl.domain import (
    CameraFault,
    CameraIdentified,
    DeviceOnline,
    EvidenceCaptured,
    EvidenceFailed,
    PtzHome,
)
from tests.camera_rig import Rig, camera_rig, until
from tests.test_camera_driver import capture


def snapshotless(password: str = "secret") -> SimCamera:
    """A camera that answers GetSnapshotUri with a fault, as ones without snapshots do."""
    sim = SimCamera(skew_s=3600, password=password)
    sim.soap_faults.add("GetSnapshotUri")
    return sim


@asynccontextmanager
async def loop_watch() -> AsyncIterator[list[float]]:
    """The longest the event loop was held up while the block ran (one entry, seconds)."""
    worst = [0.0]

    async def tick() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            worst[0] = max(worst[0], time.monotonic() - before - 0.01)

    task = asyncio.create_task(tick())
    try:
        yield worst
    finally:
        task.cancel()


async def stored_frames(rig: Rig) -> int:
    await rig.driver.execute(capture())
    return len(rig.of(EvidenceCaptured))


async def first_frame(rig: Rig, trigger: str = "operator", within_s: float = 30.0) -> str:
    """Ask for frames until one is stored (the stream opens in about a second); its id."""
    async with asyncio.timeout(within_s):
        while True:
            command = capture(trigger=trigger)
            try:
                await rig.driver.execute(command)
            except DeviceError as exc:
                assert "no new frame from the stream" in str(exc)
            else:
                return command.evidence_id


@pytest.mark.parametrize("password", ["secret", "p@ss:w/rd %"])
async def test_a_camera_without_a_snapshot_uri_gives_evidence_over_rtsp(
    tmp_path: Path, password: str
) -> None:
    sim = snapshotless(password)
    async with camera_rig(tmp_path, sim, password=password) as rig:
        identified = await rig.wait(CameraIdentified)
        assert identified.snapshot is False
        await rig.wait(DeviceOnline)
        evidence_id = await first_frame(rig, "access")
        done = await rig.wait(EvidenceCaptured)
        assert done.path == "stream" and done.evidence_id == evidence_id
        stored = rig.store.get(done.evidence_id)
        assert stored is not None and len(stored) == done.bytes
        picture = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None and picture.shape == (360, 640, 3)
        assert rig.driver.info is not None and rig.driver.info.stream_uri == sim.rtsp.url
        assert {"DESCRIBE", "SETUP", "PLAY"} <= set(sim.rtsp.requests)
        assert sim.snapshots == 0 and sim.auth_failures == 0


async def test_picture_faults_show_through_the_rtsp_stream(tmp_path: Path) -> None:
    checks = HealthSettings(interval_s=0.1, frozen_s=0.5, confirm=2)
    async with camera_rig(tmp_path, snapshotless(), health=checks, timeout_s=5.0) as rig:
        await until(lambda: (tmp_path / "evidence" / "reference-cam1.npy").exists(), 20)
        rig.sim.frames.mode = "black"
        black = await rig.wait(CameraFault, lambda e: e.fault == "black")
        assert black.active and black.measure < black.threshold
        rig.sim.frames.mode = "frozen"
        frozen = await rig.wait(CameraFault, lambda e: e.fault == "frozen")
        assert frozen.active and frozen.measure >= 0.5
        assert rig.sim.snapshots == 0


@pytest.mark.parametrize("fault", ["stall", "garbage"])
async def test_a_stream_that_stalls_or_turns_to_garbage_is_a_clear_fault_and_recovers(
    tmp_path: Path, fault: str
) -> None:
    sim = snapshotless()
    async with camera_rig(tmp_path, sim, timeout_s=1.5) as rig:
        await rig.wait(DeviceOnline)
        await first_frame(rig)
        async with loop_watch() as held:
            sim.rtsp.fault = fault  # type: ignore[assignment]
            started = time.monotonic()
            with pytest.raises(DeviceError, match=r"no new frame from the stream in 1\.5s"):
                while time.monotonic() - started < 10:  # a frame in flight may still land
                    await stored_frames(rig)
            failed = await rig.wait(EvidenceFailed)
            assert time.monotonic() - started < 10
            assert failed.error.startswith("timeout: no new frame from the stream in 1.5s")
            await rig.driver.execute(PtzHome(target="cam1"))  # the camera still answers
            assert sim.ptz.moves[-1] == "home"
        assert held[0] < 0.5, f"the event loop was held up {held[0]:.2f}s"
        sim.rtsp.fault = None
        # the stream reconnects by itself (read timeout, then a retry with backoff)
        await first_frame(rig)
        await until(lambda: sim.rtsp.playing == 1)


def test_credentials_go_into_rtsp_urls_only_percent_encoded() -> None:
    uri = "rtsp://10.0.0.5:554/Streaming/Channels/101"
    assert (
        with_credentials(uri, "admin", "p@ss:w/rd %")
        == "rtsp://admin:p%40ss%3Aw%2Frd%20%25@10.0.0.5:554/Streaming/Channels/101"
    )
    assert with_credentials(uri, "", "") == uri  # no credentials configured
    assert with_credentials("rtsp://u:p@cam/s", "admin", "x") == "rtsp://u:p@cam/s"
    assert with_credentials("http://cam/mjpeg", "admin", "x") == "http://cam/mjpeg"


@given(st.text(min_size=1, max_size=20), st.text(max_size=20), st.integers(1, 65535))
def test_any_credentials_survive_the_trip_into_the_url(user: str, password: str, port: int) -> None:
    uri = with_credentials(f"rtsp://cam.local:{port}/Streaming/101", user, password)
    parts = urlsplit(uri)
    assert (unquote(parts.username or ""), unquote(parts.password or "")) == (user, password)
    assert (parts.hostname, parts.port, parts.path) == ("cam.local", port, "/Streaming/101")
