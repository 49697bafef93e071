"""Runs the pure door state machine (``rules.door``) for every door: the state, the timers.

The router feeds it what happened (a grant pulsed a strike, the contact moved, a door was
held unlocked or relocked); it returns the effects the rules chose, and arms a timer for
the next deadline (access window end, held-open pre-alarm and alarm), whose effects go to
the same sink. Time is read once per step, here, and passed into the rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

from edgectl.domain import Command, Event, HoldRelay, PulseRelay
from rules import door as machine
from rules.policy import SitePolicy

Effects = tuple[Command | Event, ...]
Sink = Callable[[Effects], None]
# (task name, error, where) -> seconds until the next try; Supervisor.failed fits
OnFailure = Callable[[str, str, str], float]

log = structlog.get_logger(__name__)


class DoorManager:
    def __init__(self, policy: SitePolicy, clock: Callable[[], datetime], sink: Sink) -> None:
        self.clock = clock
        self.sink = sink
        self.states = {
            t.id: machine.DoorState(door=t) for t in policy.targets.values() if t.kind == "door"
        }
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.on_failure: OnFailure = lambda name, error, where: 1.0

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
        door_id = state.door.id
        self.states[door_id] = state
        timer = self._timers.pop(door_id, None)
        if timer:
            timer.cancel()
        when = machine.deadline(state)
        if when is not None:
            delay = max(0.0, (when - self.clock()).total_seconds())
            loop = asyncio.get_running_loop()
            self._timers[door_id] = loop.call_later(delay, self._tick, door_id)

    def _tick(self, door_id: str) -> None:
        self._timers.pop(door_id, None)
        try:
            new, effects = machine.tick(self.states[door_id], self.clock())
            self._set(new)
            if effects:
                self.sink(effects)
        except Exception as exc:  # a timer must not die silently: report it, try again
            log.exception("door_timer_failed", door=door_id)
            delay = self.on_failure(f"door:{door_id}", f"{type(exc).__name__}: {exc}", "")
            timer = self._timers.pop(door_id, None)
            if timer:
                timer.cancel()
            loop = asyncio.get_running_loop()
            self._timers[door_id] = loop.call_later(delay, self._tick, door_id)

    def phases(self) -> dict[str, str]:
        return {door_id: s.phase for door_id, s in self.states.items()}

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
