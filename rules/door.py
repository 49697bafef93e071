"""The door state machine. Pure: each step takes the state and ``now`` and returns the next
state and its effects.

- ``granted`` opens the access window (the door's access time plus the person's extension);
- the door contact opening inside the window cancels the window (the strike relocks, so the
  door locks as soon as it closes); opening outside it is a forced open (alarm);
- a door left open past ``held_prealarm_s`` raises a pre-alarm, past ``held_alarm_s`` an
  alarm; closing it secures it again;
- a door released (emergency, held unlocked) raises no alarms.

The caller keeps one ``DoorState`` per door and calls ``tick`` at ``deadline(state)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from edgectl.domain import AccessAlarm, Command, Event, HoldRelay
from rules.policy import Target

Effects = tuple[Command | Event, ...]

LOCKED, UNLOCKED, OPEN, PREALARM, HELD, FORCED = (
    "locked",
    "unlocked",
    "open",
    "held_prealarm",
    "held_open",
    "forced_open",
)


@dataclass(frozen=True, slots=True)
class DoorState:
    door: Target
    phase: str = LOCKED
    window_until: datetime | None = None
    opened_at: datetime | None = None
    released: bool = False


def _alarm(state: DoorState, now: datetime, alarm: str) -> AccessAlarm:
    return AccessAlarm(source=state.door.id, at=now, alarm=alarm, target=state.door.id)


def granted(state: DoorState, seconds: float, now: datetime) -> DoorState:
    """A grant pulsed the strike for ``seconds``."""
    if state.phase in (LOCKED, UNLOCKED):
        return replace(state, phase=UNLOCKED, window_until=now + timedelta(seconds=seconds))
    return state


def released(state: DoorState, on: bool) -> DoorState:
    """The door is held unlocked (emergency) or locked again."""
    return replace(state, released=on)


def contact(state: DoorState, is_open: bool, now: datetime) -> tuple[DoorState, Effects]:
    """The door contact reports open or closed."""
    if is_open:
        if state.phase not in (LOCKED, UNLOCKED):
            return state, ()
        if state.released:
            return replace(state, phase=OPEN, opened_at=now, window_until=None), ()
        if state.phase == UNLOCKED and state.window_until and now < state.window_until:
            cancel = HoldRelay(target=state.door.id, on=False)
            return replace(state, phase=OPEN, opened_at=now, window_until=None), (cancel,)
        forced = replace(state, phase=FORCED, opened_at=now, window_until=None)
        return forced, (_alarm(state, now, "forced_open"),)
    if state.phase in (LOCKED, UNLOCKED):
        return state, ()
    effects: Effects = (_alarm(state, now, "door_secured"),) if state.phase != OPEN else ()
    return replace(state, phase=LOCKED, opened_at=None), effects


def tick(state: DoorState, now: datetime) -> tuple[DoorState, Effects]:
    """Advance timers: an unused window expires, a door held open escalates."""
    if state.phase == UNLOCKED and state.window_until and now >= state.window_until:
        return replace(state, phase=LOCKED, window_until=None), ()
    if state.released or state.opened_at is None:
        return state, ()
    held = now - state.opened_at
    door = state.door
    if state.phase in (OPEN, PREALARM) and held >= timedelta(seconds=door.held_alarm_s):
        return replace(state, phase=HELD), (_alarm(state, now, "held_open"),)
    if state.phase == OPEN and held >= timedelta(seconds=door.held_prealarm_s):
        return replace(state, phase=PREALARM), (_alarm(state, now, "held_open_prealarm"),)
    return state, ()


def deadline(state: DoorState) -> datetime | None:
    """When ``tick`` next has something to do, if ever."""
    if state.phase == UNLOCKED:
        return state.window_until
    if state.released or state.opened_at is None:
        return None
    if state.phase == OPEN:
        return state.opened_at + timedelta(seconds=state.door.held_prealarm_s)
    if state.phase == PREALARM:
        return state.opened_at + timedelta(seconds=state.door.held_alarm_s)
    return None
