"""Work-order lifecycle and deadlines (rules/workorders.py): pure, time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import workorders as wo

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SERVICE = wo.Deadlines(900, 900, 3600, 4 * 3600, 24 * 3600)
EMERGENCY = wo.Deadlines(1800, 1800, 3600, 2 * 3600, 24 * 3600)
POLICY = wo.Policy(
    {"service": SERVICE, "emergency": EMERGENCY},
    (wo.Escalation(0, "assignee"), wo.Escalation(600, "supervisor")),
    supervisor="sup-1",
)


def order(**kw: object) -> wo.Order:
    base: dict[str, object] = {
        "id": "wo-1",
        "priority": "service",
        "source": "desk",
        "created_at": T0,
        "assignee": "butler-7",
    }
    return wo.Order(**(base | kw))  # type: ignore[arg-type]


def walk(o: wo.Order, upto: str, at: datetime = T0) -> wo.Order:
    for status in wo.LIFECYCLE[1 : wo.LIFECYCLE.index(upto) + 1]:
        o, _ = wo.transition(
            o, status, "b", at, estimated_fix_at=at + timedelta(hours=1), verdict="satisfied"
        )
    return o


def test_the_whole_lifecycle_records_who_and_when() -> None:
    o = order()
    steps = []
    for i, status in enumerate(wo.LIFECYCLE[1:]):
        at = T0 + timedelta(minutes=i + 1)
        o, t = wo.transition(
            o,
            status,
            f"staff-{i}",
            at,
            estimated_fix_at=T0 + timedelta(hours=2),
            verdict="satisfied",
        )
        steps.append((t.previous, t.status, t.by, t.at))
    assert o.status == "followed_up"
    assert steps[0] == ("new", "accepted", "staff-0", T0 + timedelta(minutes=1))
    assert [s[1] for s in steps] == list(wo.LIFECYCLE[1:])


def test_diagnosed_needs_an_estimate_and_followed_up_a_verdict() -> None:
    o = walk(order(), "on_site")
    with pytest.raises(wo.Refused, match="estimated fix time"):
        wo.transition(o, "diagnosed", "b", T0)
    o = walk(order(), "done")
    with pytest.raises(wo.Refused, match="verdict"):
        wo.transition(o, "followed_up", "b", T0)
    o2, t = wo.transition(o, "followed_up", "b", T0, verdict="unsatisfied")
    assert t.verdict == "unsatisfied" and o2.status == "followed_up"


@given(
    current=st.sampled_from(wo.STATUSES),
    to=st.sampled_from((*wo.STATUSES, "closed", "open", "")),
)
def test_every_transition_outside_the_lifecycle_is_refused(current: str, to: str) -> None:
    o = order(status=current)
    step = wo.LIFECYCLE.index(current) + 1 if current in wo.LIFECYCLE else None
    is_next = step is not None and step < len(wo.LIFECYCLE) and wo.LIFECYCLE[step] == to
    is_cancel = to == "cancelled" and current in ("new", "accepted", "on_site", "diagnosed")
    try:
        moved, record = wo.transition(o, to, "b", T0, estimated_fix_at=T0, verdict="satisfied")
    except wo.Refused:
        assert not (is_next or is_cancel)
    else:
        assert is_next or is_cancel
        assert moved.status == to and record.previous == current


@given(
    priority=st.sampled_from(("service", "emergency")),
    stage=st.sampled_from(tuple(wo.STAGES)),
    offset_us=st.integers(-(10**10), 10**10),
)
def test_an_order_is_never_overdue_before_its_deadline_and_always_after(
    priority: str, stage: str, offset_us: int
) -> None:
    o = order(priority=priority)
    if stage == "follow_up":
        o = walk(o, "done", T0 + timedelta(minutes=5))
    due = wo.deadline(o, stage, POLICY)
    assert due is not None
    now = due + timedelta(microseconds=offset_us)
    assert wo.overdue(o, stage, POLICY, now) == (now > due)
    _, notices = wo.tick(o, POLICY, now)
    stage_notices = [n for n in notices if n.stage == stage]
    if now <= due:
        assert stage_notices == []
    else:
        assert stage_notices and stage_notices[0].level == 0 and stage_notices[0].to == "butler-7"


def test_escalation_reaches_the_supervisor_a_step_later_and_only_once() -> None:
    o = order()
    due = T0 + timedelta(minutes=15)
    assert wo.next_deadline(o, POLICY) == due + timedelta(microseconds=1)
    o, notices = wo.tick(o, POLICY, due + timedelta(seconds=1))
    assert [(n.stage, n.level, n.to) for n in notices] == [
        ("accept", 0, "butler-7"),
        ("on_site", 0, "butler-7"),
    ]
    o, again = wo.tick(o, POLICY, due + timedelta(seconds=2))
    assert again == ()
    nxt = wo.next_deadline(o, POLICY)
    assert nxt == due + timedelta(seconds=600, microseconds=1)
    o, notices = wo.tick(o, POLICY, nxt)
    assert {(n.stage, n.level, n.to, n.role) for n in notices} == {
        ("accept", 1, "sup-1", "supervisor"),
        ("on_site", 1, "sup-1", "supervisor"),
    }


def test_reaching_a_stage_stops_its_escalation_and_meets_it_on_time() -> None:
    o, _ = wo.transition(order(), "accepted", "b", T0 + timedelta(minutes=10))
    assert wo.met(o, "accept", POLICY) is True
    _, notices = wo.tick(o, POLICY, T0 + timedelta(minutes=20))
    assert [n.stage for n in notices] == ["on_site"]
    late, _ = wo.transition(order(), "accepted", "b", T0 + timedelta(minutes=16))
    assert wo.met(late, "accept", POLICY) is False


def test_closed_orders_have_no_deadline() -> None:
    o, _ = wo.transition(order(), "cancelled", "b", T0)
    assert wo.next_deadline(o, POLICY) is None
    assert wo.tick(o, POLICY, T0 + timedelta(days=9)) == (o, ())


def test_fault_orders_have_no_follow_up_and_close_and_reopen() -> None:
    o = order(source="fault")
    closed = wo.close_recovered(o, T0 + timedelta(minutes=3))
    assert closed is not None
    o2, t = closed
    assert o2.status == "done" and t.by == "device" and t.note == "device_recovered"
    assert wo.next_deadline(o2, POLICY) is None  # no resident to follow up with
    o3, t3 = wo.reopen(o2, T0 + timedelta(hours=1))
    assert t3.note == "fault_repeated"
    assert o3.status == "new" and o3.created_at == T0 + timedelta(hours=1)
    assert wo.next_deadline(o3, POLICY) == T0 + timedelta(hours=1, minutes=15, microseconds=1)


def test_deadlines_are_absolute_across_a_dst_change() -> None:
    """Berlin springs forward at 02:00 on 2026-03-29: a 1 h deadline is 1 h of real time."""
    berlin = ZoneInfo("Europe/Berlin")
    created = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)
    o = order(created_at=created)
    due = wo.deadline(o, "diagnose", POLICY)
    assert due is not None
    assert due - created == timedelta(hours=1)
    assert due.astimezone(berlin).hour == 3 and due.astimezone(berlin).minute == 30
