"""Talk to one gate directly, without the daemon: for the CLI when no daemon owns the bus.

Both calls open the bus, run a short-lived bus owner (so retries, timeouts and metrics are
exactly the daemon's), do their work at command priority and close the bus again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from drivers.base import DeviceError
from drivers.modbus import profile as profiles
from drivers.modbus.driver import ACTIONS, action_request, make_link
from drivers.modbus.frames import READ_HOLDING, FrameError, Request
from drivers.modbus.link import LinkError
from drivers.modbus.scheduler import BusOwner
from drivers.modbus.tracker import GateTracker, Snapshot
from edgectl.config import Bus, Gate
from edgectl.domain import Command


@contextlib.asynccontextmanager
async def _owned_bus(bus: Bus) -> AsyncIterator[BusOwner]:
    link = make_link(bus)
    try:
        await link.open()
    except LinkError as exc:
        raise DeviceError(str(exc)) from exc
    owner = BusOwner(bus.id, link, bus.retries, lambda *_: None, lambda *_: None)
    task = asyncio.create_task(owner.run())
    try:
        yield owner
    except (FrameError, LinkError) as exc:
        raise DeviceError(f"{bus.id}: {exc}") from exc
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        link.close()


async def oneshot(bus: Bus, gate: Gate, command: Command) -> None:
    """Carry out ``command`` on ``gate``; raise DeviceError naming the problem."""
    name = ACTIONS.get(type(command))
    action = getattr(profiles.load(gate.profile).commands, name) if name else None
    if action is None:
        raise DeviceError(f"{gate.id}: profile {gate.profile} has no {command.KIND}")
    async with _owned_bus(bus) as owner:
        await owner.command(gate.id, action_request(gate.unit, action))


async def read_snapshot(bus: Bus, gate: Gate) -> Snapshot:
    """Read every register the gate's profile names and interpret them."""
    profile = profiles.load(gate.profile)
    values: dict[int, int] = {}
    async with _owned_bus(bus) as owner:
        for start, count in profiles.read_ranges(profile.poll_addresses):
            got = await owner.command(gate.id, Request(gate.unit, READ_HOLDING, start, count))
            values.update(zip(range(start, start + count), got, strict=True))
    tracker = GateTracker(gate, profile)
    tracker.update(values, datetime.now(UTC), 0.0)
    return tracker.snapshot
