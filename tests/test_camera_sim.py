"""The simulated ONVIF camera speaks real SOAP: checked with the real ONVIF client (zeep)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import cv2
import numpy as np
import pytest
import zeep.exceptions
from hypothesis import given
from hypothesis import strategies as st
from onvif import ONVIFCamera

from drivers.sim import camera_soap as soap
from drivers.sim.camera import SimCamera


@pytest.fixture
async def sim() -> AsyncIterator[SimCamera]:
    cam = SimCamera(skew_s=3 * 3600)
    await cam.start()
    yield cam
    await cam.stop()


async def onvif_client(sim: SimCamera, *, adjust: bool, password: str = "secret") -> ONVIFCamera:
    cam = ONVIFCamera("127.0.0.1", sim.port, "admin", password, adjust_time=adjust)
    await cam.update_xaddrs()
    return cam


async def test_a_skewed_camera_refuses_tokens_signed_with_our_clock(sim: SimCamera) -> None:
    cam = ONVIFCamera("127.0.0.1", sim.port, "admin", "secret", adjust_time=False)
    try:
        with pytest.raises(zeep.exceptions.Fault, match="not authorized"):
            await cam.update_xaddrs()
        assert sim.auth_failures >= 1
    finally:
        await cam.close()


async def test_signed_with_the_cameras_clock_every_service_answers(sim: SimCamera) -> None:
    cam = await onvif_client(sim, adjust=True)
    try:
        assert cam.dt_diff is not None and abs(cam.dt_diff.total_seconds() - 3 * 3600) < 2
        info = await (await cam.create_devicemgmt_service()).GetDeviceInformation()
        assert info.Model == "SimDome 360"
        media = await cam.create_media_service()
        profiles = await media.GetProfiles()
        assert profiles[0].token == "profile_1"
        assert await cam.get_snapshot_uri("profile_1") == f"{sim.base}/snapshot.jpg"
        ptz = await cam.create_ptz_service()
        await ptz.GotoPreset({"ProfileToken": "profile_1", "PresetToken": "2"})
        await ptz.ContinuousMove(
            {"ProfileToken": "profile_1", "Velocity": {"PanTilt": {"x": 0.5, "y": 0.0}}}
        )
        assert sim.ptz.velocity == (0.5, 0.0, 0.0)
        await ptz.Stop({"ProfileToken": "profile_1"})
        assert sim.ptz.moves == ["goto:2", "move:0.5,0.0,0.0", "stop"]
        assert sim.auth_failures == 0
    finally:
        await cam.close()


async def test_wrong_password_is_a_fault_and_counted(sim: SimCamera) -> None:
    cam = ONVIFCamera("127.0.0.1", sim.port, "admin", "nope", adjust_time=True)
    try:
        with pytest.raises(zeep.exceptions.Fault):
            await cam.update_xaddrs()
        assert sim.auth_failures >= 1  # the library tries GetServices, then GetCapabilities
    finally:
        await cam.close()


async def test_pullpoint_delivers_injected_events_and_a_reboot_drops_it(sim: SimCamera) -> None:
    cam = await onvif_client(sim, adjust=True)
    try:
        events = await cam.create_events_service()
        made = await events.CreatePullPointSubscription({"InitialTerminationTime": "PT60S"})
        address = made.SubscriptionReference.Address._value_1
        cam.xaddrs["http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"] = address
        pull = await cam.create_pullpoint_service()
        assert sim.inject("input") == 1
        got = await pull.PullMessages({"Timeout": "PT2S", "MessageLimit": 5})
        assert [m.Topic._value_1 for m in got.NotificationMessage] == [
            "tns1:Device/Trigger/DigitalInput"
        ]
        sim.reboot()
        with pytest.raises(zeep.exceptions.Fault, match="no such subscription"):
            await pull.PullMessages({"Timeout": "PT1S", "MessageLimit": 5})
    finally:
        await cam.close()


async def fetch_snapshot(sim: SimCamera, password: str = "secret") -> tuple[int, bytes]:
    digest = aiohttp.DigestAuthMiddleware("admin", password)
    async with (
        aiohttp.ClientSession(middlewares=(digest,)) as http,
        http.get(f"{sim.base}/snapshot.jpg") as response,
    ):
        return response.status, await response.read()


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)


async def test_snapshot_needs_digest_auth_and_serves_the_injected_modes(sim: SimCamera) -> None:
    status, _ = await fetch_snapshot(sim, "wrong")
    assert status == 401 and sim.auth_failures == 1
    status, first = await fetch_snapshot(sim)
    assert status == 200 and first[:2] == b"\xff\xd8"
    _, second = await fetch_snapshot(sim)
    assert first != second  # the clock bar moves
    sim.frames.mode = "frozen"
    _, a = await fetch_snapshot(sim)
    _, b = await fetch_snapshot(sim)
    assert a == b
    sim.frames.mode = "black"
    _, black = await fetch_snapshot(sim)
    assert decode(black).mean() < 10
    sim.frames.mode = "defocused"
    _, soft = await fetch_snapshot(sim)
    sharp = cv2.Laplacian(decode(second), cv2.CV_64F).var()
    assert cv2.Laplacian(decode(soft), cv2.CV_64F).var() < sharp / 5


async def test_a_request_with_entities_is_refused_not_expanded(sim: SimCamera) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base}/onvif/device_service", data=soap.BOMB) as response,
    ):
        body = await response.text()
    assert response.status == 400 and "EntitiesForbidden" in body


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_durations_parse(h: int, m: int, s: int) -> None:
    assert soap.duration_s(f"PT{h}H{m}M{s}S", -1) == h * 3600 + m * 60 + s
    assert soap.duration_s(f"P{h}D", -1) == -1


@given(
    st.binary(min_size=16, max_size=16), st.text(min_size=1, max_size=20), st.integers(-400, 400)
)
def test_usernametoken_digest_is_checked_at_the_cameras_time(
    nonce: bytes, password: str, offset_s: int
) -> None:
    camera_now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    created = soap.xml_time(camera_now + timedelta(seconds=offset_s))
    token = {
        "Username": "admin",
        "Password": soap.password_digest(nonce, created, password),
        "Nonce": base64.b64encode(nonce).decode(),
        "Created": created,
        "PasswordType": "...#PasswordDigest",
    }
    problem = soap.check_token(token, "admin", password, camera_now, 300)
    assert (problem is None) == (abs(offset_s) <= 300)
    assert soap.check_token(token, "admin", password + "x", camera_now, 300) is not None
