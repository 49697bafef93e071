"""End to end: the simulated compound with a dome over its gate, the real daemon, its journal."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

from edgectl import data as shipped
from edgectl import tomlw
from edgectl.config import parse
from edgectl.simulation import Compound, simulated_compound
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.evidence import EvidenceStore
from tests.camera_rig import until
from tests.daemon_helpers import running, wait_for


def open_commands(compound: Compound) -> list[float]:
    return [t for t, name in compound.gates.gates[1].model.commands if name == "open"]


async def test_a_swipe_at_the_gate_stores_an_evidence_frame(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path, cameras=1) as compound:
        async with running(compound.config) as (daemon, events):
            await daemon.site.call(SiteService.add_card, "res-1", 12, 1001, actor=SYSTEM)
            ident = await wait_for(events, "camera_identified")
            assert ident.source == "gate-cam" and ident.body["model"] == "SimDome 360"
            compound.reader.present("h10301", 12, 1001)
            decided = await wait_for(events, "access_decided")
            evidence = await wait_for(events, "evidence_captured")
            assert evidence.source == "gate-cam"
            assert (evidence.body["trigger"], evidence.body["ref"]) == ("access", decided.source)
            assert evidence.seq > decided.seq
            store = EvidenceStore(tmp_path / "evidence", 10**9, 10**7)
            frame = store.get(evidence.body["evidence_id"])
            assert frame is not None and frame[:2] == b"\xff\xd8"


async def test_a_camera_that_hangs_never_delays_the_gate(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path, cameras=1) as compound:
        async with running(compound.config) as (daemon, events):
            await daemon.site.call(SiteService.add_card, "res-1", 12, 1001, actor=SYSTEM)
            await wait_for(events, "gate_state")
            await until(lambda: compound.cameras[0].subscriptions)  # connected, subscribed
            compound.cameras[0].snapshot_fault = "slow"  # the snapshot never comes (30 s)
            latencies = []
            for _ in range(3):
                before = len(open_commands(compound))
                sent = time.monotonic()
                compound.reader.present("h10301", 12, 1001)
                await until(lambda n=before: len(open_commands(compound)) > n, timeout=2)
                latencies.append(open_commands(compound)[-1] - sent)
            assert max(latencies) < 0.2, latencies
            failed = await wait_for(events, "evidence_failed", timeout=15)
            assert "timeout" in failed.body["error"]


async def test_a_forced_door_turns_the_dome_and_takes_a_frame(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path, cameras=1) as compound:
        data = tomllib.loads(compound.config_path.read_text())
        data["doors"][0]["camera"] = "gate-cam"  # the dome watches the lobby door too
        compound.config_path.write_text(tomlw.dumps(data))
        config = parse(compound.config_path.read_text(), compound.config_path)
        async with running(config) as (daemon, events):
            await until(lambda: daemon.devices.views["gate-cam"].online)
            await until(lambda: daemon.devices.views["main-gate"].online)
            compound.gates.io[2].set_input(0, True)  # the lobby door opens with no grant
            alarm = await wait_for(events, "access_alarm", timeout=10)
            assert alarm.body["alarm"] == "forced_open"
            dome = compound.cameras[0]
            await until(lambda: "goto:2" in dome.ptz.moves)
            assert (dome.ptz.pan, dome.ptz.tilt) == (0.5, -0.2)
            evidence = await wait_for(events, "evidence_captured")
            assert (evidence.body["trigger"], evidence.body["ref"]) == ("alarm", "lobby-a")


async def test_an_input_in_the_armed_period_is_a_camera_alarm_with_a_frame(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path, cameras=1) as compound:
        data = tomllib.loads(compound.config_path.read_text())
        data["cameras"]["devices"][0]["armed_schedule"] = "always"
        compound.config_path.write_text(tomlw.dumps(data))
        config = parse(compound.config_path.read_text(), compound.config_path)
        async with running(config) as (_, events):
            await wait_for(events, "camera_identified")
            sim = compound.cameras[0]
            await until(lambda: sim.subscriptions)
            sim.inject("input")
            event = await wait_for(events, "camera_event")
            assert event.body["kind"] == "input" and event.body["active"] is True
            alarm = await wait_for(events, "camera_alarm")
            assert alarm.body["alarm"] == "input"
            evidence = await wait_for(events, "evidence_captured")
            assert evidence.body["trigger"] == "camera_alarm"


def test_the_commented_camera_example_is_valid() -> None:
    """Uncommenting the example's [[cameras.devices]] block gives a valid config."""
    lines = shipped.text("config.example.toml").splitlines()
    start = lines.index("# [[cameras.devices]]")
    out = list(lines)
    i = start
    while (lines[i].startswith("# ") and "=" in lines[i]) or lines[i].startswith("# ["):
        out[i] = lines[i][2:]
        i += 1
    config = parse("\n".join(out))
    cam = config.cameras.devices[0]
    assert cam.id == "gate-cam" and cam.presets[0].target == "lobby-a"
    assert cam.health.interval_s == 1.0
    assert (cam.motion.poll_interval_s, cam.motion.area_threshold) == (1.0, 0.02)
