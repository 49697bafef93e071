"""A simulated bus with a running gate driver, for the Modbus tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import REGISTRY

from drivers.modbus import build
from drivers.modbus.driver import GateBusDriver
from drivers.modbus.profile import PROFILE_DIR
from drivers.sim.gate import SimGates
from edgectl.domain import Event


async def wait_event(
    events: list[Event], pred: Callable[[Event], bool], within_s: float = 3.0
) -> Event:
    """The first event in ``events`` (a driver's emit list) matching ``pred``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for e in events:
            if pred(e):
                return e
        await asyncio.sleep(0.01)
    raise AssertionError(f"no matching event in {events}")


@dataclass
class Rig:
    sim: SimGates
    driver: GateBusDriver
    events: list[Event] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.driver.run(self.events.append))

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.sim.stop()

    async def wait_for(self, pred: Callable[[Event], bool], within_s: float = 3.0) -> Event:
        return await wait_event(self.events, pred, within_s)

    def count(self, unit: int, outcome: str) -> float:
        labels = {"bus": self.driver.id, "unit": str(unit), "outcome": outcome}
        return REGISTRY.get_sample_value("edgectl_modbus_transactions_total", labels) or 0.0

    async def wait_count(
        self, unit: int, outcome: str, above: float, within_s: float = 3.0
    ) -> None:
        deadline = time.monotonic() + within_s
        while self.count(unit, outcome) <= above:
            if time.monotonic() > deadline:
                raise AssertionError(f"unit {unit} {outcome} stayed at {self.count(unit, outcome)}")
            await asyncio.sleep(0.01)


def fast_profile(directory: Path, travel_s: float = 0.3, verify_s: float = 0.5) -> str:
    """A CAME ZLB30 profile file whose boom moves in ``travel_s`` (for quick tests)."""
    text = (PROFILE_DIR / "came_zlb30.toml").read_text()
    text = text.replace("travel_s = 4.0", f"travel_s = {travel_s}")
    text = text.replace("open_verify_s = 2.0", f"open_verify_s = {verify_s}")
    path = directory / "fast_gate.toml"
    path.write_text(text)
    return str(path)


__all__ = ["Rig", "build", "fast_profile"]
