"""The gate driver: one configured bus (RTU or TCP) and the barrier gates on it.

It implements the ``Driver`` protocol (drivers/base.py). ``run`` opens the link and runs
the bus owner task; if the port fails (unplugged, connection refused) ``run`` raises
``LinkError`` and the supervisor restarts the driver with backoff: reconnection is the
supervisor's job, not an internal loop. Gate state survives a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from drivers.base import DeviceError, Emit, Health
from drivers.modbus import profile as profiles
from drivers.modbus.doors import KEY_PREFIX as DOOR_KEY
from drivers.modbus.doors import DoorIo
from drivers.modbus.frames import READ_HOLDING, WRITE_COIL, WRITE_REGISTER, FrameError, Request
from drivers.modbus.link import LinkError, RtuLink, TcpLink
from drivers.modbus.scheduler import BusOwner
from drivers.modbus.settings import Bus, Door, Gate
from drivers.modbus.timing import LineTiming
from drivers.modbus.tracker import GateTracker
from edgectl.domain import (
    CloseGate,
    Command,
    DeviceOffline,
    DeviceOnline,
    Event,
    GateCommandFailed,
    OpenGate,
    PartialOpenGate,
    StopGate,
)

ACTIONS: dict[type[Command], str] = {
    OpenGate: "open",
    CloseGate: "close",
    StopGate: "stop",
    PartialOpenGate: "partial",
}


def line_timing(bus: Bus) -> LineTiming:
    return LineTiming(
        baud=bus.baud,
        bytesize=bus.bytesize,
        parity=bus.parity,
        stopbits=bus.stopbits,
        turnaround_s=bus.turnaround_ms / 1000,
        latency_s=bus.latency_ms / 1000,
    )


def make_link(bus: Bus) -> RtuLink | TcpLink:
    timing = line_timing(bus)
    return (
        RtuLink(bus.port, timing) if bus.kind == "rtu" else TcpLink(bus.host, bus.tcp_port, timing)
    )


def action_request(unit: int, action: profiles.Action) -> Request:
    if action.coil is not None:
        return Request(unit, WRITE_COIL, action.coil, 1)
    assert action.register is not None
    return Request(unit, WRITE_REGISTER, action.register, action.value)


class GateBusDriver:
    """All gates on one bus, behind one bus owner task."""

    def __init__(self, bus: Bus, gates: Sequence[Gate], doors: Sequence[Door] = ()) -> None:
        self.id = bus.id
        self.bus = bus
        self.link = make_link(bus)
        self.trackers = {g.id: GateTracker(g, profiles.load(g.profile)) for g in gates}
        self.doors = DoorIo(bus.id, doors, self._send)
        self.owner = BusOwner(bus.id, self.link, bus.retries, self._on_poll, self._on_unit)
        for unit in {*(g.unit for g in gates), *self.doors.units().values()}:
            self.owner.agenda.breaker(unit).offline_after = bus.offline_after
        for key, request, interval in self.doors.polls():
            self.owner.add_poll(key, request, interval)
        for g in gates:
            for start, count in profiles.read_ranges(self.trackers[g.id].profile.poll_addresses):
                self.owner.add_poll(
                    g.id, Request(g.unit, READ_HOLDING, start, count), g.poll_interval_s
                )
        self._emit: Emit | None = None
        self._values: dict[str, dict[int, int]] = {g.id: {} for g in gates}
        self._tokens = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def devices(self) -> frozenset[str]:
        return frozenset(self.trackers) | self.doors.devices

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        await self.link.open()
        try:
            await self.owner.run()
        finally:
            self.doors.stop()
            self.link.close()
            self._emit = None
            for breaker in self.owner.agenda.breakers.values():
                breaker.online = None  # unknown until the first reply after a restart
            for tracker in self.trackers.values():
                tracker.snapshot.state = "unknown"  # re-announce the state after a restart

    async def _send_command(self, key: str, request: Request) -> list[int]:
        if self._emit is None:
            raise DeviceError(f"{key}: bus {self.id} is down")
        try:
            return await self.owner.command(key, request)
        except (FrameError, LinkError) as exc:
            raise DeviceError(
                f"{key}: {request.function:#04x} to unit {request.unit} failed: {exc}"
            ) from exc

    async def execute(self, command: Command) -> None:
        if command.target in self.doors.relays:
            await self.doors.execute(command, lambda r: self._send_command(command.target, r))
            return
        tracker = self.trackers.get(command.target)
        if tracker is None:
            raise DeviceError(f"{self.id}: no gate {command.target!r} on this bus")
        name = ACTIONS.get(type(command))
        action = getattr(tracker.profile.commands, name) if name else None
        if action is None:
            raise DeviceError(
                f"{command.target}: profile {tracker.profile.model} has no {command.KIND}"
            )
        if self._emit is None:
            raise DeviceError(f"{command.target}: bus {self.id} is down")
        try:
            await self.owner.command(command.target, action_request(tracker.gate.unit, action))
        except (FrameError, LinkError) as exc:
            raise DeviceError(f"{command.target}: {command.KIND} failed: {exc}") from exc
        verify_s = tracker.profile.timing.open_verify_s
        self.owner.hurry(command.target, verify_s)
        if name == "open":
            token = tracker.open_pending = next(self._tokens)
            asyncio.get_running_loop().call_later(verify_s, self._verify_open, tracker, token)

    def health(self) -> Health:
        breakers = self.owner.agenda.breakers
        down = sorted(str(u) for u, b in breakers.items() if b.online is False)
        online = self._emit is not None and len(down) < len(breakers)
        return Health(online, f"units offline: {', '.join(down)}" if down else "")

    def status(self, gate_id: str) -> dict[str, object]:
        """The latest snapshot of ``gate_id`` (for `edgectl gate status` via the daemon)."""
        tracker = self.trackers[gate_id]
        snap = tracker.snapshot
        breaker = self.owner.agenda.breaker(tracker.gate.unit)
        return {
            "gate": gate_id,
            "bus": self.id,
            "unit": tracker.gate.unit,
            "profile": tracker.profile.model,
            "online": breaker.online,
            "state": snap.state,
            "position": snap.position,
            "fault_code": snap.fault_code,
            "fault_text": snap.fault_text,
            "vehicle": snap.vehicle,
            "obstacle": snap.obstacle,
            "counters": dict(snap.counters),
            "read_at": snap.read_at.isoformat() if snap.read_at else None,
        }

    # --- callbacks from the bus owner ---------------------------------------------------

    def _send(self, event: Event) -> None:
        if self._emit is not None:
            self._emit(event)

    def _on_poll(self, gate_id: str, request: Request, values: list[int] | None) -> None:
        if values is None:
            return
        if gate_id.startswith(DOOR_KEY):
            for event in self.doors.on_poll(request, values):
                self._send(event)
            return
        merged = self._values[gate_id]
        merged.update(
            zip(range(request.address, request.address + request.value), values, strict=True)
        )
        tracker = self.trackers[gate_id]
        if tracker.profile.registers.state not in merged:
            return
        now = time.monotonic()
        for event in tracker.update(merged, datetime.now(UTC), now):
            self._send(event)
        if tracker.wants_auto_close(now):
            self._auto_close(gate_id)

    def _on_unit(self, unit: int, online: bool, error: str, retry_in_s: float) -> None:
        at = datetime.now(UTC)
        units = {gate_id: t.gate.unit for gate_id, t in self.trackers.items()} | self.doors.units()
        for device, device_unit in units.items():
            if device_unit != unit:
                continue
            if online:
                self._send(DeviceOnline(source=device, at=at))
            else:
                self._send(DeviceOffline(source=device, at=at, error=error, retry_in_s=retry_in_s))

    def _verify_open(self, tracker: GateTracker, token: int) -> None:
        if tracker.open_pending != token:
            return
        tracker.open_pending = None
        verify_s = tracker.profile.timing.open_verify_s
        self._send(
            GateCommandFailed(
                source=tracker.gate.id,
                at=datetime.now(UTC),
                command=OpenGate.KIND,
                error=f"state still {tracker.snapshot.state} {verify_s:g}s after open",
            )
        )

    def _auto_close(self, gate_id: str) -> None:
        async def close() -> None:
            try:
                await self.execute(CloseGate(target=gate_id))
            except DeviceError as exc:
                at = datetime.now(UTC)
                self._send(
                    GateCommandFailed(source=gate_id, at=at, command=CloseGate.KIND, error=str(exc))
                )

        task = asyncio.get_running_loop().create_task(close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
