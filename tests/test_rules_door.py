"""The door state machine: access window, cancel on open, held-open, forced open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.domain import AccessAlarm, HoldRelay
from rules import door
from rules.policy import Target

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
LOBBY = Target("door-lobby", "door", "building", held_prealarm_s=30, held_alarm_s=60)


def alarms(effects: tuple[object, ...]) -> list[str]:
    return [e.alarm for e in effects if isinstance(e, AccessAlarm)]


def test_open_inside_the_window_cancels_it_and_held_open_escalates() -> None:
    s = door.granted(door.DoorState(LOBBY), 5, T0)
    s, fx = door.contact(s, True, T0 + timedelta(seconds=2))
    assert fx == (HoldRelay(target="door-lobby", on=False),) and s.phase == door.OPEN
    assert door.deadline(s) == T0 + timedelta(seconds=32)
    s, fx = door.tick(s, T0 + timedelta(seconds=31))
    assert alarms(fx) == [] and s.phase == door.OPEN
    s, fx = door.tick(s, T0 + timedelta(seconds=32))
    assert alarms(fx) == ["held_open_prealarm"]
    s, fx = door.tick(s, T0 + timedelta(seconds=62))
    assert alarms(fx) == ["held_open"] and s.phase == door.HELD
    s, fx = door.contact(s, False, T0 + timedelta(seconds=70))
    assert alarms(fx) == ["door_secured"] and s.phase == door.LOCKED


def test_opening_after_the_window_is_a_forced_open() -> None:
    s = door.granted(door.DoorState(LOBBY), 5, T0)
    s, _ = door.tick(s, T0 + timedelta(seconds=5))
    assert s.phase == door.LOCKED
    s, fx = door.contact(s, True, T0 + timedelta(seconds=6))
    assert alarms(fx) == ["forced_open"]


def test_released_doors_raise_no_alarms() -> None:
    s = door.released(door.DoorState(LOBBY), True)
    s, fx = door.contact(s, True, T0)
    s, fx2 = door.tick(s, T0 + timedelta(hours=1))
    assert alarms(fx + fx2) == []


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.sampled_from(["grant", "open", "close", "tick"]), st.integers(0, 120)),
        max_size=30,
    )
)
def test_forced_open_only_without_a_live_window(steps: list[tuple[str, int]]) -> None:
    s, now = door.DoorState(LOBBY), T0
    for action, dt in steps:
        now += timedelta(seconds=dt)
        window_live = (
            s.phase == door.UNLOCKED and s.window_until is not None and now < s.window_until
        )
        fx: tuple[object, ...] = ()
        if action == "grant":
            s = door.granted(s, 5, now)
        elif action == "open":
            s, fx = door.contact(s, True, now)
        elif action == "close":
            s, fx = door.contact(s, False, now)
        else:
            s, fx = door.tick(s, now)
        if "forced_open" in alarms(fx):
            assert action == "open" and not window_live
