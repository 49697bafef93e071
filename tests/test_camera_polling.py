"""Motion by polling frames, for cameras without PullPoint: the pure detector, the shared
frame feed, the driver against the simulated camera and the daemon's armed-period alarm."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drivers.onvif import motion
from drivers.onvif.feed import FrameFeed, decode
from drivers.onvif.frames import SnapshotClient
from drivers.onvif.settings import Camera, HealthSettings, MotionSettings
from drivers.sim.camera import SIM_PASSWORD, SIM_USER, SimCamera
from drivers.sim.camera_frames import FrameMode, FrameSource
from edgectl import tomlw
from edgectl.config import parse
from edgectl.confload import ConfigError, build
from edgectl.domain import CameraEvent, CameraFault, CameraIdentified, DeviceOnline
from edgectl.simulation import simulated_compound
from tests.camera_rig import camera_rig, until
from tests.daemon_helpers import running, wait_for

FAST = MotionSettings(poll_interval_s=0.05, quiet_s=0.5)
SETTINGS = MotionSettings(area_threshold=0.05, quiet_s=3.0)
frames = arrays(np.uint8, (motion.WORK[1], motion.WORK[0]))
steps = st.lists(
    st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 5.0)),  # (changed share, seconds since last)
    max_size=60,
)


def run(shares: list[tuple[float, float]]) -> list[tuple[float, motion.MotionChange]]:
    """Feed ``decide`` a sequence of (share, elapsed) steps; the changes with their times."""
    state, now, out = motion.MotionState(), 0.0, []
    for share, elapsed in shares:
        now += elapsed
        state, changes = motion.decide(state, share, now, SETTINGS)
        out += [(now, c) for c in changes]
    return out


# --- the pure detector ------------------------------------------------------------------


@given(frames, st.lists(st.floats(0.0, 100.0), min_size=1, max_size=10))
def test_identical_frames_never_make_motion(frame: np.ndarray, gaps: list[float]) -> None:
    state, now = motion.MotionState(), 0.0
    for gap in gaps:
        now += gap
        state, changes = motion.check(state, frame.copy(), now, SETTINGS)
        assert changes == [] and not state.active


@given(steps)
def test_motion_begins_and_ends_alternately_never_an_end_first(
    shares: list[tuple[float, float]],
) -> None:
    changes = [c.active for _, c in run(shares)]
    assert changes == [i % 2 == 0 for i in range(len(changes))]


@given(steps)
def test_begins_only_on_enough_change_and_ends_only_after_the_quiet_time(
    shares: list[tuple[float, float]],
) -> None:
    state, now, last_motion = motion.MotionState(), 0.0, None
    for share, elapsed in shares:
        now += elapsed
        state, changes = motion.decide(state, share, now, SETTINGS)
        moving = share >= SETTINGS.area_threshold
        last_motion = now if moving else last_motion
        for change in changes:
            assert change.share == share
            if change.active:
                assert moving
            else:
                assert not moving and last_motion is not None
                assert now - last_motion >= SETTINGS.quiet_s
        assert state.active == (last_motion is not None and now - last_motion < SETTINGS.quiet_s)


@given(st.lists(st.tuples(st.floats(0.0, 0.0499), st.floats(0.0, 5.0)), max_size=60))
def test_changes_below_the_area_threshold_are_no_motion(shares: list[tuple[float, float]]) -> None:
    assert run(shares) == []


def test_a_figure_walking_across_the_sim_scene_is_motion_and_its_clock_overlay_is_not() -> None:
    source = FrameSource()
    defaults = MotionSettings()

    def shares(mode: FrameMode) -> list[float]:
        source.mode = mode
        small = [motion.prepare(decode(source.next_jpeg())) for _ in range(6)]
        return [
            motion.changed_share(a, b, defaults.pixel_threshold)
            for a, b in itertools.pairwise(small)
        ]

    assert max(shares("normal")) < defaults.area_threshold / 2
    assert min(shares("motion")) > defaults.area_threshold * 2


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("area_threshold", 1.5, "0 < share < 1"),
        ("quiet_s", 0, "positive seconds"),
        ("pixel_threshold", 300, "grey levels"),
    ],
)
def test_a_bad_motion_setting_is_a_clear_config_error(key: str, value: float, problem: str) -> None:
    data = {"id": "cam", "host": "10.0.0.9", "motion": {key: value}}
    with pytest.raises(ConfigError) as exc:
        build(Camera, data, Path("site.toml"), "cameras.devices[0]")
    assert exc.value.key == f"cameras.devices[0].motion.{key}"
    assert problem in exc.value.problem


# --- the shared frame feed --------------------------------------------------------------


async def test_the_feed_shares_a_fresh_frame_and_never_repeats_one_to_a_watcher() -> None:
    sim = SimCamera()
    await sim.start()
    client = SnapshotClient(SIM_USER, SIM_PASSWORD, 1 << 20, 2.0)
    try:
        feed = FrameFeed("cam1", lambda: client.get(f"{sim.base}/snapshot.jpg"))
        health = await feed.frame(0, 10.0)
        polled = await feed.frame(0, 10.0)  # another watcher, just after: the same frame
        assert polled.seq == health.seq and sim.snapshots == 1
        again = await feed.frame(health.seq, 10.0)  # seen already: a new one is fetched
        assert again.seq > health.seq and sim.snapshots == 2
        stale = await feed.frame(0, 0.0)  # not fresh enough for this watcher: fetched
        assert stale.seq > again.seq and sim.snapshots == 3
    finally:
        await client.close()
        await sim.stop()


# --- the driver against the simulated camera --------------------------------------------


async def test_without_pullpoint_a_scene_change_is_motion_that_ends_when_quiet(
    tmp_path: Path,
) -> None:
    sim = SimCamera()
    sim.pullpoint = False
    async with camera_rig(tmp_path, sim, motion=FAST) as rig:
        ident = await rig.wait(CameraIdentified)
        assert ident.events == "polling"
        await until(lambda: sim.snapshots >= 3)  # polling a still scene
        assert rig.of(CameraEvent) == []
        sim.frames.mode = "motion"
        began = await rig.wait(CameraEvent)
        assert (began.kind, began.active, began.name) == ("motion", True, motion.NAME)
        sim.frames.mode = "normal"
        ended = await rig.wait(CameraEvent, lambda e: not e.active)
        assert ended.kind == "motion"
        assert [e.active for e in rig.of(CameraEvent)] == [True, False]
        assert "CreatePullPointSubscription" not in sim.requests
        assert "polling" in rig.driver.health().detail


async def test_a_camera_that_refuses_pullpoint_falls_back_to_polling_and_says_so(
    tmp_path: Path,
) -> None:
    sim = SimCamera()
    sim.pullpoint, sim.advertise_pullpoint = False, True  # claims it, then refuses it
    async with camera_rig(tmp_path, sim, motion=FAST) as rig:
        first = await rig.wait(CameraIdentified)
        assert first.events == "pullpoint"
        fallback = await rig.wait(CameraIdentified, lambda e: e.events == "polling")
        assert fallback.model == first.model
        await until(lambda: "polling" in rig.driver.health().detail)
        assert rig.driver.health().online
        sim.frames.mode = "motion"
        began = await rig.wait(CameraEvent)
        assert (began.kind, began.active) == ("motion", True)
        assert sim.requests.count("CreatePullPointSubscription") == 1  # asked once, not hammered
        assert len(rig.of(DeviceOnline)) == 1  # the connection was kept


async def test_a_still_scene_polled_with_health_checks_makes_no_motion_and_no_fault(
    tmp_path: Path,
) -> None:
    sim = SimCamera()
    sim.pullpoint = False
    checks = HealthSettings(interval_s=0.05, frozen_s=0.3, confirm=1)
    async with camera_rig(tmp_path, sim, motion=FAST, health=checks) as rig:
        await rig.wait(DeviceOnline)
        await until(lambda: sim.snapshots >= 40, timeout=20)
        assert rig.of(CameraEvent) == []
        assert rig.of(CameraFault) == []  # a shared frame is never seen twice: not frozen


# --- the daemon: motion in the armed period is an alarm ---------------------------------


async def test_polled_motion_in_the_armed_period_is_a_camera_alarm(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path, cameras=1) as compound:
        data = tomllib.loads(compound.config_path.read_text())
        cam = data["cameras"]["devices"][0]
        cam["armed_schedule"] = "always"
        cam["motion"] = {"poll_interval_s": 0.1, "quiet_s": 0.5}
        compound.config_path.write_text(tomlw.dumps(data))
        config = parse(compound.config_path.read_text(), compound.config_path)
        sim = compound.cameras[0]
        sim.pullpoint = False
        async with running(config) as (_, events):
            ident = await wait_for(events, "camera_identified", timeout=30)
            assert ident.body["events"] == "polling"
            sim.frames.mode = "motion"
            began = await wait_for(events, "camera_event", timeout=10)
            assert (began.body["kind"], began.body["active"]) == ("motion", True)
            alarm = await wait_for(events, "camera_alarm", timeout=10)
            assert (alarm.source, alarm.body["alarm"]) == ("gate-cam", "motion")
            sim.frames.mode = "normal"
            ended = await wait_for(events, "camera_event", timeout=10)
            assert (ended.body["kind"], ended.body["active"]) == ("motion", False)
