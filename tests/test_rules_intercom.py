"""The intercom call state machine (rules/intercom.py), exhaustively with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rules import intercom as m

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
START = m.CallState("ic1", "ped-door", answer_s=30.0, butler="staff-7")

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["ringing", "answered", "ended", "tick"]),
        st.floats(0, 40, allow_nan=False),
    ),
    max_size=25,
)


def run(steps: list[tuple[str, float]]) -> tuple[m.CallState, list[tuple[str, datetime]]]:
    state, now, seen = START, T0, []
    for what, dt in steps:
        now += timedelta(seconds=dt)
        if what == "tick":
            due = m.deadline(state)
            if due is not None and due > now:
                now = due  # the caller ticks at the deadline
            state, effects = m.tick(state, now)
        else:
            state, effects = m.signal(state, what, now, by="ops-alice")
        seen += [(e.state, e.at) for e in effects]
        for e in effects:
            assert e.source == "ic1" and e.target == "ped-door" and e.call_id
    return state, seen


@given(STEPS)
def test_every_call_starts_ringing_and_finishes_once(steps: list[tuple[str, float]]) -> None:
    state, seen = run(steps)
    states = [s for s, _ in seen]
    calls: list[list[str]] = []
    for s in states:
        if s == "ringing":
            calls.append([s])
        else:
            assert calls, "a call event before any ringing"
            calls[-1].append(s)
    for i, call in enumerate(calls):
        finished = i < len(calls) - 1 or state.phase == m.IDLE
        assert call in (
            ["ringing"],
            ["ringing", "answered"],
            ["ringing", "ended"],
            ["ringing", "missed"],
            ["ringing", "answered", "ended"],
        )
        if finished:
            assert call[-1] in ("ended", "missed")


@given(STEPS)
def test_missed_exactly_when_unanswered_for_answer_s(steps: list[tuple[str, float]]) -> None:
    _, seen = run(steps)
    rang = None
    for s, at in seen:
        if s == "ringing":
            rang = at
        elif s == "missed":
            assert rang is not None and at - rang >= timedelta(seconds=30)
        elif s == "answered":
            assert rang is not None and at - rang < timedelta(seconds=30)


@given(st.floats(0, 29.99, allow_nan=False))
def test_deadline_is_answer_s_after_the_ring_and_ticks_before_do_nothing(dt: float) -> None:
    state, effects = m.signal(START, "ringing", T0)
    assert [e.state for e in effects] == ["ringing"]
    assert m.deadline(state) == T0 + timedelta(seconds=30)
    same, none = m.tick(state, T0 + timedelta(seconds=dt))
    assert same == state and none == ()
    idle, missed = m.tick(state, T0 + timedelta(seconds=30))
    assert [e.state for e in missed] == ["missed"] and missed[0].butler_id == "staff-7"
    assert idle.phase == m.IDLE and m.deadline(idle) is None


def test_answer_names_the_operator_and_stops_the_timer() -> None:
    ringing, _ = m.signal(START, "ringing", T0)
    answered, effects = m.signal(ringing, "answered", T0 + timedelta(seconds=3), by="ops-alice")
    assert effects[0].answered_by == "ops-alice" and effects[0].call_id == ringing.call_id
    assert m.deadline(answered) is None


STAFF = st.sampled_from(["staff-7", "b1", "b2", "b3"])
ON_DUTY = st.lists(STAFF, unique=True, max_size=4)


@given(st.one_of(st.none(), STAFF), ON_DUTY)
def test_the_butler_told_is_on_duty_whenever_anyone_is(
    configured: str | None, on_duty: list[str]
) -> None:
    told, choice = m.butler_to_tell(configured, on_duty)
    if on_duty:
        assert told in on_duty
        if configured in on_duty:  # the intercom's own butler first, when on duty
            assert (told, choice) == (configured, m.CONFIGURED_ON_DUTY)
        else:
            assert (told, choice) == (on_duty[0], m.ROSTER)
    else:  # nobody on duty: the intercom's own butler (or nobody), and the event says so
        assert (told, choice) == (configured, m.NOBODY_ON_DUTY)


@given(st.one_of(st.none(), STAFF), ON_DUTY, st.floats(30, 1e6, allow_nan=False))
def test_a_missed_call_names_whoever_is_on_duty_when_it_is_missed(
    configured: str | None, on_duty: list[str], late_s: float
) -> None:
    start = m.CallState("ic1", "ped-door", answer_s=30.0, butler=configured)
    ringing, _ = m.signal(start, "ringing", T0, on_duty=["somebody-else"])  # at the ring
    at = T0 + timedelta(seconds=late_s)
    # missed by its timer, or found missed by the next signal however late the timer runs
    for _, effects in (m.tick(ringing, at, on_duty), m.signal(ringing, "ended", at, None, on_duty)):
        (missed,) = [e for e in effects if e.state == "missed"]
        assert (missed.butler_id, missed.butler_choice) == m.butler_to_tell(configured, on_duty)
        assert missed.butler_id in on_duty or not on_duty
