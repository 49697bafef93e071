"""Turns a gate's polled registers into domain events, via its profile.

Emits ``GateState`` when the state (or the fault code) changes, ``VehicleDetected``
when the loop bit changes, and keeps the latest snapshot for ``gate status``. It also
watches an open command (did the state reach opening/open before the profile's
deadline?) and decides when the driver should auto-close. Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from drivers.modbus.profile import Profile
from drivers.modbus.settings import Gate
from edgectl.domain import Event, GateState, VehicleDetected

OPENED = frozenset({"opening", "open"})


def _bit(flags: int | None, bit: int | None) -> bool:
    return flags is not None and bit is not None and bool(flags >> bit & 1)


@dataclass
class Snapshot:
    state: str = "unknown"
    position: int | None = None
    fault_code: int | None = None
    fault_text: str | None = None
    vehicle: bool = False
    obstacle: bool = False
    counters: dict[str, int] = field(default_factory=dict)
    read_at: datetime | None = None


class GateTracker:
    def __init__(self, gate: Gate, profile: Profile) -> None:
        self.gate = gate
        self.profile = profile
        self.snapshot = Snapshot()
        self.open_pending: int | None = None  # token of an unverified open command
        self.opened_since: float | None = None
        self.auto_close_sent = False

    def update(self, values: dict[int, int], at: datetime, now: float) -> list[Event]:
        """Apply polled register values read at ``at`` (wall) / ``now`` (monotonic)."""
        p, r, snap = self.profile, self.profile.registers, self.snapshot
        flags = values.get(r.flags) if r.flags is not None else None
        state = p.state_of(values[r.state])
        faulted = state == "fault" or _bit(flags, p.bits.fault)
        code = values.get(r.fault) if r.fault is not None and faulted else None
        events: list[Event] = []
        new_state = "fault" if faulted else state
        if (new_state, code) != (snap.state, snap.fault_code):
            events.append(
                GateState(
                    source=self.gate.id,
                    at=at,
                    state=new_state,
                    position=values.get(r.position) if r.position is not None else None,
                    fault_code=code,
                    fault_text=p.fault_text(code) if code else None,
                )
            )
        vehicle = _bit(flags, p.bits.vehicle_loop)
        if vehicle != snap.vehicle:
            events.append(VehicleDetected(source=self.gate.id, at=at, present=vehicle))
        snap.state, snap.fault_code = new_state, code
        snap.fault_text = p.fault_text(code) if code else None
        snap.position = values.get(r.position) if r.position is not None else None
        snap.vehicle, snap.obstacle = vehicle, _bit(flags, p.bits.obstacle)
        snap.counters = {
            name: values[a]
            for name, a in zip(p.counter_names, r.counters, strict=True)
            if a in values
        }
        snap.read_at = at
        if new_state in OPENED:
            self.open_pending = None
        self._track_open(new_state, vehicle, now)
        return events

    def _track_open(self, state: str, vehicle: bool, now: float) -> None:
        if state != "open":
            self.opened_since = None
            self.auto_close_sent = False
        elif self.opened_since is None or vehicle:
            self.opened_since = now  # a vehicle on the loop restarts the auto-close time

    def wants_auto_close(self, now: float) -> bool:
        """True once, when the gate has stood open ``auto_close_s`` with the loop clear."""
        limit = self.gate.auto_close_s
        if not limit or self.opened_since is None or self.auto_close_sent:
            return False
        if now - self.opened_since < limit:
            return False
        self.auto_close_sent = True
        return True
