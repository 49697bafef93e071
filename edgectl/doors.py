"""Runs the pure door state machine (``rules.door``) for every door: the state, the timers.

The router feeds it what happened (a grant pulsed a strike, the contact moved, a door was
held unlocked or relocked); it returns the effects the rules chose, and arms a timer for
the next deadline (access window end, held-open pre-alarm and alarm), whose effects go to
the same sink. Time is read once per step, here, and passed into the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from edgectl.deadlines import Deadlines, OnFailure
from edgectl.domain import Command, Event, HoldRelay, PulseRelay
from rules import door as machine
from rules.policy import SitePolicy

Effects = tuple[Command | Event, ...]
Sink = Callable[[Effects], None]


class DoorManager:
    def __init__(self, policy: SitePolicy, clock: Callable[[], datetime], sink: Sink) -> None:
        self.clock = clock
        self.sink = sink
        self.states = {
            t.id: machine.DoorState(door=t) for t in policy.targets.values() if t.kind == "door"
        }
        self._deadlines = Deadlines("door", clock, self._tick)

    @property
    def on_failure(self) -> OnFailure:
        return self._deadlines.on_failure

    @on_failure.setter
    def on_failure(self, report: OnFailure) -> None:
        self._deadlines.on_failure = report

    def commanded(self, command: Command) -> None:
        """A command was sent to a door's strike: a grant's pulse, a hold, a relock."""
        state = self.states.get(command.target)
        if state is None:
            return
        if isinstance(command, PulseRelay):
            self._set(machine.granted(state, command.seconds, self.clock()))
        elif isinstance(command, HoldRelay):
            self._set(machine.released(state, command.on))

    def contact(self, door_id: str, is_open: bool) -> None:
        state = self.states.get(door_id)
        if state is None:
            return
        new, effects = machine.contact(state, is_open, self.clock())
        self._set(new)
        if effects:
            self.sink(effects)

    def _set(self, state: machine.DoorState) -> None:
        self.states[state.door.id] = state
        self._deadlines.arm(state.door.id, machine.deadline(state))

    def _tick(self, door_id: str) -> None:
        new, effects = machine.tick(self.states[door_id], self.clock())
        self._set(new)
        if effects:
            self.sink(effects)

    def phases(self) -> dict[str, str]:
        return {door_id: s.phase for door_id, s in self.states.items()}

    def stop(self) -> None:
        self._deadlines.stop()
