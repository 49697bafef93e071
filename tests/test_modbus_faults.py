"""Wire faults injected by the simulated gates: each is counted, none stops the bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.base import DeviceError
from drivers.sim.gate import start_sim_gates
from edgectl.config import Bus, Contact, Door, Gate, Relay
from edgectl.domain import (
    CloseGate,
    DeviceOffline,
    DeviceOnline,
    GateCommandFailed,
    GateState,
    OpenGate,
    PulseRelay,
    VehicleDetected,
)
from tests.conftest import PtyPair, free_port
from tests.modbus_rig import Rig, build, fast_profile

BAD = ("timeout", "crc", "truncated", "wrong_unit", "garbage", "exception")


@pytest.fixture
async def rig(
    pty_pair: PtyPair, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Rig]:
    profile = fast_profile(tmp_path)
    sim = await start_sim_gates(pty_pair.device, {1: profile, 2: profile}, baud=115200)
    bus = Bus(
        id=f"faults-{request.node.name}"[:60],
        port=pty_pair.host,
        baud=115200,
        retries=0,
        latency_ms=100,  # host scheduling on a busy CI box must not look like a wire fault
        offline_after=2,
    )
    gates = [
        Gate(id="g1", bus=bus.id, unit=1, profile=profile, poll_interval_s=0.05, auto_close_s=0.4),
        Gate(id="g2", bus=bus.id, unit=2, profile=profile, poll_interval_s=0.05),
    ]
    r = Rig(sim, build(bus, gates))
    r.start()
    await r.wait_for(lambda e: isinstance(e, GateState) and e.source == "g2")
    yield r
    await r.stop()


@pytest.mark.parametrize(
    ("fault", "outcomes"),
    [
        ("crc", ("crc",)),
        ("wrong_unit", ("wrong_unit",)),
        ("truncate", ("truncated",)),
        ("exception", ("exception",)),
        ("garbage", ("garbage", "crc", "truncated", "wrong_unit")),
        ("slow", ("timeout",)),
    ],
)
async def test_fault_is_counted_and_other_unit_keeps_working(
    rig: Rig, fault: str, outcomes: tuple[str, ...]
) -> None:
    before = sum(rig.count(1, o) for o in outcomes)
    rig.sim.gates[1].inject(fault, count=1, delay_s=0.3)  # type: ignore[arg-type]
    ok2 = rig.count(2, "ok")
    for _ in range(300):
        if sum(rig.count(1, o) for o in outcomes) > before:
            break
        await asyncio.sleep(0.01)
    assert sum(rig.count(1, o) for o in outcomes) == before + 1
    await rig.wait_count(2, "ok", ok2 + 5)
    ok1 = rig.count(1, "ok")
    await rig.wait_count(1, "ok", ok1 + 3, within_s=5)  # unit 1 recovers on its own
    assert all(rig.count(2, o) == 0 for o in BAD)


async def test_silent_unit_goes_offline_then_online_on_first_good_reply(rig: Rig) -> None:
    rig.sim.gates[1].inject("silence")
    off = await rig.wait_for(lambda e: isinstance(e, DeviceOffline) and e.source == "g1")
    assert isinstance(off, DeviceOffline) and "no reply" in off.error
    ok2 = rig.count(2, "ok")
    await rig.wait_count(2, "ok", ok2 + 10)
    assert not [e for e in rig.events if isinstance(e, DeviceOffline) and e.source == "g2"]
    rig.sim.gates[1].inject(None)
    await rig.wait_for(lambda e: isinstance(e, DeviceOnline) and e.source == "g1", within_s=5)


async def test_command_to_silent_unit_raises_device_error(rig: Rig) -> None:
    rig.sim.gates[1].inject("silence")
    with pytest.raises(DeviceError, match="no reply from unit 1"):
        await rig.driver.execute(OpenGate(target="g1"))


async def test_faulted_gate_reports_fault_text_and_failed_open(rig: Rig) -> None:
    rig.sim.gates[1].model.fault_code = 3
    fault = await rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "fault")
    assert isinstance(fault, GateState)
    assert (fault.source, fault.fault_code, fault.fault_text) == ("g1", 3, "motor overcurrent")
    await rig.driver.execute(OpenGate(target="g1"))
    failed = await rig.wait_for(lambda e: isinstance(e, GateCommandFailed))
    assert isinstance(failed, GateCommandFailed)
    assert (failed.source, failed.command) == ("g1", "open_gate")
    assert "still fault" in failed.error


async def test_open_is_verified_and_auto_close_follows(rig: Rig) -> None:
    await rig.driver.execute(OpenGate(target="g1"))
    await rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "open")
    await rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "closing", within_s=3)
    assert [c for _, c in rig.sim.gates[1].model.commands] == ["open", "close"]
    await asyncio.sleep(0.6)  # past the open verification deadline
    assert not [e for e in rig.events if isinstance(e, GateCommandFailed)]


async def test_vehicle_on_loop_is_reported_and_holds_auto_close(rig: Rig) -> None:
    model = rig.sim.gates[1].model
    model.vehicle = True
    await rig.wait_for(lambda e: isinstance(e, VehicleDetected) and e.present)
    await rig.driver.execute(OpenGate(target="g1"))
    await rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "open")
    await asyncio.sleep(0.8)
    assert [c for _, c in model.commands] == ["open"], "closed on a vehicle"
    model.vehicle = False
    await rig.wait_for(lambda e: isinstance(e, VehicleDetected) and not e.present)
    await rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "closing", within_s=3)


async def test_unknown_gate_and_missing_command_are_device_errors(rig: Rig) -> None:
    with pytest.raises(DeviceError, match="no gate 'nope'"):
        await rig.driver.execute(CloseGate(target="nope"))


async def test_tcp_faults_are_counted_and_silence_goes_offline() -> None:
    port = free_port()
    sim = await start_sim_gates("", {1: "came_zlb30", 2: "came_zlb30"}, tcp_port=port)
    bus = Bus(
        id="faults-tcp",
        kind="tcp",
        host="127.0.0.1",
        tcp_port=port,
        retries=0,
        latency_ms=100,  # host scheduling on a busy CI box must not look like a wire fault
        offline_after=2,
    )
    gates = [
        Gate(id=f"t{u}", bus=bus.id, unit=u, profile="came_zlb30", poll_interval_s=0.05)
        for u in (1, 2)
    ]
    r = Rig(sim, build(bus, gates))
    r.start()
    try:
        await r.wait_for(lambda e: isinstance(e, GateState) and e.source == "t1")
        for fault, outcome in (("wrong_unit", "wrong_unit"), ("truncate", "truncated")):
            before = r.count(1, outcome)
            sim.gates[1].inject(fault, count=1)  # type: ignore[arg-type]
            await r.wait_count(1, outcome, before)
        sim.gates[1].inject("silence")
        await r.wait_for(lambda e: isinstance(e, DeviceOffline) and e.source == "t1")
        sim.gates[1].inject(None)
        await r.wait_for(lambda e: isinstance(e, DeviceOnline) and e.source == "t1", within_s=5)
        assert all(r.count(2, o) == 0 for o in BAD)
    finally:
        await r.stop()


async def test_a_relay_at_an_impossible_unit_fails_alone_and_the_bus_carries_on(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """A door wired (config check bypassed) to unit 300, which no RTU frame can carry:
    each of its transactions fails and is counted, and the gates on the bus keep working."""
    profile = fast_profile(tmp_path)
    sim = await start_sim_gates(pty_pair.device, {1: profile, 2: profile}, baud=115200)
    bus = Bus(id="bad-relay", port=pty_pair.host, baud=115200, retries=0, latency_ms=15)
    gates = [
        Gate(id=f"g{u}", bus=bus.id, unit=u, profile=profile, poll_interval_s=0.05) for u in (1, 2)
    ]
    door = Door(
        id="d-bad",
        relay=Relay(bus=bus.id, unit=300, coil=0),  # constructed directly: validate() not run
        contact=Contact(bus=bus.id, unit=300, input=0, poll_interval_s=0.05),
    )
    r = Rig(sim, build(bus, gates, [door]))
    r.start()
    try:
        await r.wait_count(300, "error", 0)  # its contact poll fails and is counted
        with pytest.raises(DeviceError, match=r"unit 300 failed: .*ValueError"):
            await r.driver.execute(PulseRelay(target="d-bad", seconds=1.0))
        assert r.task is not None and not r.task.done(), "the bus task ended"
        ok2 = r.count(2, "ok")
        await r.driver.execute(OpenGate(target="g1"))
        assert [c for _, c in sim.gates[1].model.commands] == ["open"]  # the coil was written
        await r.wait_for(
            lambda e: isinstance(e, GateState) and e.source == "g1" and e.state == "open"
        )
        await r.wait_count(2, "ok", ok2 + 5)
        assert all(r.count(u, o) == 0 for u in (1, 2) for o in BAD)
        assert r.task is not None and not r.task.done()
    finally:
        await r.stop()
