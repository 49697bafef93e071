"""The gate driver against simulated gates over real pty pairs (RTU) and TCP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers.base import DeviceError
from drivers.modbus import build
from drivers.modbus.driver import GateBusDriver
from drivers.modbus.link import LinkError
from drivers.sim.gate import SimGates, start_sim_gates
from edgectl.config import Bus, Gate
from edgectl.domain import DeviceOnline, Event, GateState, OpenGate
from tests.conftest import PtyPair, free_port, make_pty_pair
from tests.modbus_rig import wait_event


@dataclass
class Rig:
    sim: SimGates
    driver: GateBusDriver
    events: list[Event] = field(default_factory=list)

    async def wait_for(self, pred: Callable[[Event], bool], within_s: float = 3.0) -> Event:
        return await wait_event(self.events, pred, within_s)


@pytest.fixture
async def rtu_rig(pty_pair: PtyPair) -> AsyncIterator[Rig]:
    sim = await start_sim_gates(pty_pair.device, {1: "came_zlb30", 2: "generic"}, baud=9600)
    bus = Bus(id="bus1", port=pty_pair.host, baud=9600)
    gates = [
        Gate(id="g1", bus="bus1", unit=1, profile="came_zlb30", poll_interval_s=0.2),
        Gate(id="g2", bus="bus1", unit=2, profile="generic", poll_interval_s=0.2),
    ]
    rig = Rig(sim, build(bus, gates))
    task = asyncio.create_task(rig.driver.run(rig.events.append))
    yield rig
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await sim.stop()


async def test_open_writes_coil_within_200ms_and_polls_report_states(rtu_rig: Rig) -> None:
    await rtu_rig.wait_for(lambda e: isinstance(e, GateState) and e.source == "g1")
    model = rtu_rig.sim.gates[1].model
    t0 = time.monotonic()
    await rtu_rig.driver.execute(OpenGate(target="g1"))
    assert model.commands, "the open coil never reached the gate"
    assert model.commands[0][1] == "open"
    assert model.commands[0][0] - t0 < 0.2
    await rtu_rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "opening")
    await rtu_rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "open", within_s=6)
    assert rtu_rig.sim.gates[2].model.commands == []


async def test_generic_profile_opens_by_command_register(rtu_rig: Rig) -> None:
    await rtu_rig.wait_for(lambda e: isinstance(e, GateState) and e.source == "g2")
    await rtu_rig.driver.execute(OpenGate(target="g2"))
    assert [c for _, c in rtu_rig.sim.gates[2].model.commands] == ["open"]
    await rtu_rig.wait_for(lambda e: e.source == "g2" and getattr(e, "state", "") == "opening")


async def test_tcp_bus() -> None:
    port = free_port()
    sim = await start_sim_gates("", {5: "came_zlb30"}, tcp_port=port)
    bus = Bus(id="tcp1", kind="tcp", host="127.0.0.1", tcp_port=port)
    rig = Rig(sim, build(bus, [Gate(id="t5", bus="tcp1", unit=5, profile="came_zlb30")]))
    task = asyncio.create_task(rig.driver.run(rig.events.append))
    try:
        await rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "closed")
        await rig.driver.execute(OpenGate(target="t5"))
        await rig.wait_for(lambda e: isinstance(e, GateState) and e.state == "opening")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()


async def test_unplugged_port_fails_run_and_replug_recovers(tmp_path: Path) -> None:
    pair = make_pty_pair(tmp_path, "usb")
    sim = await start_sim_gates(pair.device, {1: "came_zlb30"}, baud=9600)
    bus = Bus(id="unplug", port=pair.host, baud=9600)
    rig = Rig(
        sim,
        build(
            bus, [Gate(id="u1", bus="unplug", unit=1, profile="came_zlb30", poll_interval_s=0.05)]
        ),
    )
    task = asyncio.create_task(rig.driver.run(rig.events.append))
    await rig.wait_for(lambda e: isinstance(e, DeviceOnline))
    pair.close()  # the USB adapter is pulled
    with pytest.raises(LinkError):
        await asyncio.wait_for(task, 5)
    assert not rig.driver.health().online
    with pytest.raises(DeviceError, match="down"):
        await rig.driver.execute(OpenGate(target="u1"))
    await sim.stop()
    with pytest.raises(LinkError, match="cannot open"):
        await rig.driver.run(rig.events.append)  # still unplugged: the supervisor backs off
    rig.events.clear()
    pair = make_pty_pair(tmp_path, "usb")  # plugged back in, same path
    rig.sim = await start_sim_gates(pair.device, {1: "came_zlb30"}, baud=9600)
    task = asyncio.create_task(rig.driver.run(rig.events.append))
    try:
        await rig.wait_for(lambda e: isinstance(e, DeviceOnline) and e.source == "u1")
        await rig.driver.execute(OpenGate(target="u1"))
        assert [c for _, c in rig.sim.gates[1].model.commands] == ["open"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await rig.sim.stop()
        pair.close()
