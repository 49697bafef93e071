"""Doors wired to a Modbus I/O module on a bus: a coil drives the strike relay, a discrete
input reads the door contact.

The bus owner carries the traffic: relay writes are commands (ahead of every poll), contact
reads are polls, one per unit covering all its contact inputs. ``PulseRelay`` energises
the relay and de-energises it after the access time; ``HoldRelay`` holds it either way and
cancels a pulse in progress (the rules relock a door as soon as it opens).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from drivers.base import DeviceError
from drivers.modbus.frames import READ_DISCRETE, WRITE_COIL, Request
from drivers.modbus.profile import read_ranges
from drivers.modbus.settings import Contact, Door, Relay
from edgectl.domain import AccessAlarm, Command, DoorContact, Event, HoldRelay, PulseRelay

KEY_PREFIX = "door-inputs:"
Send = Callable[[Request], Awaitable[object]]


class DoorIo:
    """The relays and contacts of the doors on one bus."""

    def __init__(self, bus_id: str, doors: Sequence[Door], alarm: Callable[[Event], None]) -> None:
        self.alarm = alarm
        self.relays = {d.id: d.relay for d in doors if d.relay and d.relay.bus == bus_id}
        self.contacts = {d.id: d.contact for d in doors if d.contact and d.contact.bus == bus_id}
        self.state: dict[str, bool] = {}  # door id -> contact open, as last read
        self._pulses: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def devices(self) -> frozenset[str]:
        return frozenset(self.relays) | frozenset(self.contacts)

    def units(self) -> dict[str, int]:
        """Door id -> the unit its I/O is on (for online/offline reports)."""
        wires: dict[str, Relay | Contact] = {**self.relays, **self.contacts}
        return {door: wire.unit for door, wire in wires.items()}

    def polls(self) -> list[tuple[str, Request, float]]:
        """One discrete-input read per unit and contiguous range: (key, request, interval)."""
        by_unit: dict[int, list[int]] = {}
        interval: dict[int, float] = {}
        for contact in self.contacts.values():
            by_unit.setdefault(contact.unit, []).append(contact.input)
            interval[contact.unit] = min(interval.get(contact.unit, 60.0), contact.poll_interval_s)
        return [
            (
                f"{KEY_PREFIX}{unit}:{start}",
                Request(unit, READ_DISCRETE, start, count),
                interval[unit],
            )
            for unit, inputs in sorted(by_unit.items())
            for start, count in read_ranges(tuple(sorted(set(inputs))))
        ]

    def on_poll(self, request: Request, values: list[int]) -> list[Event]:
        """Contact changes seen in a discrete-input read."""
        at = datetime.now(UTC)
        events: list[Event] = []
        for door, contact in self.contacts.items():
            offset = contact.input - request.address
            if contact.unit != request.unit or not 0 <= offset < len(values):
                continue
            is_open = bool(values[offset]) == contact.open_value
            if self.state.get(door) != is_open:
                self.state[door] = is_open
                events.append(DoorContact(source=door, at=at, open=is_open))
        return events

    async def execute(self, command: Command, send: Send) -> None:
        relay = self.relays.get(command.target)
        if relay is None:
            raise DeviceError(f"door {command.target!r} has no relay on this bus")
        if isinstance(command, PulseRelay):
            # Arm the relock before the write: a write whose reply is lost (bus pulled,
            # timeout) may still have energised the strike, so it must still be relocked,
            # or alarmed if the bus stops first.
            self._cancel_pulse(command.target)
            loop = asyncio.get_running_loop()
            self._pulses[command.target] = loop.call_later(
                command.seconds, self._pulse_end, command.target, send
            )
            await send(Request(relay.unit, WRITE_COIL, relay.coil, 1))
        elif isinstance(command, HoldRelay):
            self._cancel_pulse(command.target)
            await send(Request(relay.unit, WRITE_COIL, relay.coil, int(command.on)))
        else:
            raise DeviceError(f"door {command.target!r} cannot {command.KIND}")

    def _cancel_pulse(self, door: str) -> None:
        timer = self._pulses.pop(door, None)
        if timer:
            timer.cancel()

    def _pulse_end(self, door: str, send: Send) -> None:
        self._pulses.pop(door, None)
        relay = self.relays[door]
        task = asyncio.get_running_loop().create_task(
            self._relock(door, send, Request(relay.unit, WRITE_COIL, relay.coil, 0))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relock(self, door: str, send: Send, request: Request) -> None:
        try:
            await send(request)
        except DeviceError as exc:  # the strike may still be energised: say so loudly
            at = datetime.now(UTC)
            self.alarm(AccessAlarm(source=door, at=at, alarm=f"relock_failed: {exc}", target=door))

    def stop(self) -> None:
        """The bus went down: a strike pulsed but not yet relocked may stay energised."""
        at = datetime.now(UTC)
        for door, timer in self._pulses.items():
            timer.cancel()
            problem = "relock_failed: bus stopped during the access time"
            self.alarm(AccessAlarm(source=door, at=at, alarm=problem, target=door))
        self._pulses.clear()
