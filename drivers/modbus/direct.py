"""Talk to gates directly, without the daemon: for the CLI when no daemon owns the bus.

Each call opens the bus, run a short-lived bus owner (so retries, timeouts and metrics are
exactly the daemon's), do their work at command priority and close the bus again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from drivers.base import DeviceError
from drivers.modbus import profile as profiles
from drivers.modbus.driver import ACTIONS, action_request, make_link
from drivers.modbus.frames import READ_HOLDING, ExceptionReply, FrameError, Request
from drivers.modbus.link import LinkError
from drivers.modbus.scheduler import BusOwner
from drivers.modbus.settings import Bus, Gate
from drivers.modbus.tracker import GateTracker, Snapshot
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


@dataclass(frozen=True, slots=True)
class ScanHit:
    """A unit that answered a probe, and the shipped profiles its registers fit."""

    unit: int
    fits: tuple[str, ...]
    state: str  # as read through the first fitting profile, or what went wrong


async def scan(
    bus: Bus, units: Sequence[int], progress: Callable[[int], None] = lambda _: None
) -> list[ScanHit]:
    """Probe ``units`` on ``bus`` (retries 0); report who answered and which profile fits."""
    probes = [(name, profiles.load(name)) for name in profiles.names()]
    hits: list[ScanHit] = []
    async with _owned_bus(replace(bus, retries=0)) as owner:
        for unit in units:
            fits: list[tuple[str, str]] = []
            answered = False
            for name, profile in probes:
                try:
                    state = await _probe(owner, unit, profile)
                except ExceptionReply:
                    answered = True
                    continue
                except FrameError:
                    if not answered:
                        break  # silent: nobody there, skip the other profiles
                    continue
                answered = True
                if state is not None:
                    fits.append((name, state))
            if answered:
                first = fits[0][1] if fits else "answered, no profile fits"
                hits.append(ScanHit(unit, tuple(n for n, _ in fits), first))
            progress(unit)
    return hits


async def _probe(owner: BusOwner, unit: int, profile: profiles.Profile) -> str | None:
    """The state the unit reports through ``profile``, or None if its registers do not fit."""
    values: dict[int, int] = {}
    for start, count in profiles.read_ranges(profile.poll_addresses):
        got = await owner.command("scan", Request(unit, READ_HOLDING, start, count))
        values.update(zip(range(start, start + count), got, strict=True))
    state = profile.state_of(values[profile.registers.state])
    pos_addr = profile.registers.position
    position = values.get(pos_addr) if pos_addr is not None else None
    if state == "unknown" or (position is not None and not 0 <= position <= 100):
        return None
    return state
