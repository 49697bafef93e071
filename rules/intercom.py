"""The intercom call state machine. Pure: each step takes the state and ``now`` and returns
the next state and the ``IntercomCall`` events to journal.

- a ``ringing`` signal at an idle intercom starts a call (its id is the intercom and the
  time it started); a ring while a call is up is the same call;
- ``answered`` (the device, or an operator's ``intercom/answer``) answers a ringing call;
- ``ended`` ends a ringing or answered call;
- a call still ringing ``answer_s`` after it started is ``missed``: the butler to tell
  (``butler_to_tell``, from the butlers on duty at that moment, which the caller passes in
  with ``now``) is named on the event, and the intercom is idle again (the device's own
  hang-up that follows is then ignored).

The caller keeps one ``CallState`` per intercom and calls ``tick`` at ``deadline(state)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from edgectl.domain import IntercomCall

IDLE, RINGING, ANSWERED = "idle", "ringing", "answered"
# how the butler told of a missed call was chosen (``IntercomCall.butler_choice``)
CONFIGURED_ON_DUTY = "configured_on_duty"  # the intercom's own butler, on duty
ROSTER = "roster"  # the intercom's butler is off duty or unset: the first butler on duty
NOBODY_ON_DUTY = "nobody_on_duty"  # no butler on duty: the intercom's own butler, if any
Effects = tuple[IntercomCall, ...]


@dataclass(frozen=True, slots=True)
class CallState:
    intercom: str
    target: str
    answer_s: float
    butler: str | None = None
    phase: str = IDLE
    call_id: str | None = None
    since: datetime | None = None
    answered_by: str | None = None


def _event(state: CallState, now: datetime, what: str, **extra: str | None) -> IntercomCall:
    assert state.call_id is not None
    return IntercomCall(
        source=state.intercom,
        at=now,
        call_id=state.call_id,
        state=what,
        target=state.target,
        answered_by=state.answered_by,
        **extra,
    )


def butler_to_tell(configured: str | None, on_duty: Sequence[str]) -> tuple[str | None, str]:
    """Who is told of a missed call, and why: the intercom's own butler if on duty, else the
    first butler on duty (roster order), else the intercom's own butler (or nobody)."""
    if configured and configured in on_duty:
        return configured, CONFIGURED_ON_DUTY
    if on_duty:
        return on_duty[0], ROSTER
    return configured or None, NOBODY_ON_DUTY


def signal(
    state: CallState,
    what: str,
    now: datetime,
    by: str | None = None,
    on_duty: Sequence[str] = (),
) -> tuple[CallState, Effects]:
    """The device (or an operator, ``by``) says a call is ``ringing``/``answered``/``ended``.

    A call whose deadline has passed is missed first, however late its timer runs;
    ``on_duty`` are the butlers on duty at ``now``, in roster order."""
    state, missed = tick(state, now, on_duty)
    state, effects = _signal(state, what, now, by)
    return state, missed + effects


def _signal(
    state: CallState, what: str, now: datetime, by: str | None
) -> tuple[CallState, Effects]:
    if what == RINGING:
        if state.phase != IDLE:
            return state, ()
        call_id = f"{state.intercom}@{now.strftime('%Y%m%dT%H%M%S.%f')}"
        new = replace(state, phase=RINGING, call_id=call_id, since=now, answered_by=None)
        return new, (_event(new, now, RINGING),)
    if what == ANSWERED:
        if state.phase != RINGING:
            return state, ()
        new = replace(state, phase=ANSWERED, answered_by=by)
        return new, (_event(new, now, ANSWERED),)
    if what == "ended" and state.phase in (RINGING, ANSWERED):
        return _idle(state), (_event(state, now, "ended"),)
    return state, ()


def tick(state: CallState, now: datetime, on_duty: Sequence[str] = ()) -> tuple[CallState, Effects]:
    """A ringing call past ``answer_s`` is missed; ``on_duty`` are the butlers on duty at
    ``now`` (roster order), one of whom is told."""
    due = deadline(state)
    if due is None or now < due:
        return state, ()
    butler, choice = butler_to_tell(state.butler, on_duty)
    missed = _event(state, now, "missed", butler_id=butler, butler_choice=choice)
    return _idle(state), (missed,)


def deadline(state: CallState) -> datetime | None:
    if state.phase != RINGING or state.since is None:
        return None
    return state.since + timedelta(seconds=state.answer_s)


def _idle(state: CallState) -> CallState:
    return replace(state, phase=IDLE, call_id=None, since=None, answered_by=None)
