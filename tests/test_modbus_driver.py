"""The gate driver against simulated gates over real pty pairs (RTU) and TCP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from drivers.modbus import build
from drivers.modbus.driver import GateBusDriver
from drivers.sim.gate import SimGates, start_sim_gates
from edgectl.config import Bus, Gate
from edgectl.domain import Event, GateState, OpenGate
from tests.conftest import PtyPair, free_port


@dataclass
class Rig:
    sim: SimGates
    driver: GateBusDriver
    events: list[Event] = field(default_factory=list)

    async def wait_for(self, pred: Callable[[Event], bool], within_s: float = 3.0) -> Event:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for e in self.events:
                if pred(e):
                    return e
            await asyncio.sleep(0.01)
        raise AssertionError(f"no matching event in {self.events}")


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
