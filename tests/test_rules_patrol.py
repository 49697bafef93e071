"""Guard patrol tours and their schedule (rules/patrol.py, rules/patrol_schedule.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from rules import patrol
from rules.patrol_schedule import PatrolSchedule, next_start
from rules.schedule import ALWAYS, Calendar, WeekPlan

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
ROUTE = patrol.Route(
    "night",
    (
        patrol.Checkpoint("cp-a", 0, 300),
        patrol.Checkpoint("cp-b", 300, 900),
        patrol.Checkpoint("cp-c", 900, 1500),
    ),
    ordered=True,
    max_duration_s=2400,
    max_silence_s=600,
    late_s=120,
)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def run(tour: patrol.Tour, badges: list[tuple[str, float]]) -> tuple[patrol.Tour, list[object]]:
    effects: list[object] = []
    for cp, s in badges:
        tour, out = patrol.badge(tour, cp, at(s))
        effects += out
    return tour, effects


def test_a_clean_tour_is_completed_with_every_checkpoint_on_time() -> None:
    tour = patrol.start(ROUTE, "t1", "guard-1", T0, "schedule")
    tour, effects = run(tour, [("cp-a", 60), ("cp-b", 400), ("cp-c", 1000)])
    results = [e.result for e in effects if isinstance(e, patrol.CheckpointResult)]
    assert results == ["on_time", "on_time", "on_time"]
    ended = [e for e in effects if isinstance(e, patrol.TourEnded)]
    assert ended and ended[0].status == "completed"
    assert patrol.next_deadline(tour) is None


def test_early_late_out_of_order_and_missed() -> None:
    tour = patrol.start(ROUTE, "t1", "guard-1", T0, "operator:ana")
    tour, effects = run(tour, [("cp-b", 100), ("cp-a", 200)])
    results = {e.checkpoint: e.result for e in effects if isinstance(e, patrol.CheckpointResult)}
    assert results == {"cp-b": "out_of_order", "cp-a": "on_time"}
    # cp-c: window ends at 1500 s, late until 1620 s, missed after that
    due = patrol.next_deadline(tour)
    assert due is not None and due <= at(1620) + timedelta(microseconds=1)
    tour, effects2 = patrol.tick(tour, at(800))  # 600 s silent since 200 s
    assert [type(e).__name__ for e in effects2] == ["GuardOverdue"]
    tour, effects3 = patrol.tick(tour, at(1621))
    kinds = [(type(e).__name__, getattr(e, "result", getattr(e, "status", ""))) for e in effects3]
    assert kinds == [("CheckpointResult", "missed"), ("TourEnded", "incomplete")]
    early = patrol.start(ROUTE, "t2", "g", T0, "x")
    _, eff = run(early, [("cp-a", 0), ("cp-b", 100), ("cp-c", 1550)])
    assert [e.result for e in eff if isinstance(e, patrol.CheckpointResult)] == [
        "on_time",
        "early",
        "late",
    ]


def test_silence_is_alarmed_once_and_rearmed_by_a_badge() -> None:
    tour = patrol.start(ROUTE, "t1", "g", T0, "x")
    tour, e1 = patrol.tick(tour, at(600))
    assert [type(e).__name__ for e in e1] == ["CheckpointResult", "GuardOverdue"]  # cp-a missed
    tour, e2 = patrol.tick(tour, at(650))
    assert e2 == ()
    tour, _ = patrol.badge(tour, "cp-b", at(660))
    assert patrol.next_deadline(tour) == at(1260)  # silent again 600 s after that badge


badge_lists = st.lists(
    st.tuples(st.sampled_from(("cp-a", "cp-b", "cp-c", "nope")), st.integers(0, 3000)),
    max_size=12,
).map(lambda xs: sorted(xs, key=lambda x: x[1]))


@given(badges=badge_lists, ordered=st.booleans())
def test_a_checkpoint_badge_is_classified_exactly_once(
    badges: list[tuple[str, int]], ordered: bool
) -> None:
    route = patrol.Route(
        "r", ROUTE.checkpoints, ordered=ordered, max_duration_s=2400, max_silence_s=600, late_s=120
    )
    tour = patrol.start(route, "t", "g", T0, "x")
    effects: list[object] = []
    for cp, s in badges:
        tour, out = patrol.badge(tour, cp, at(s))
        effects += out
    tour, out = patrol.tick(tour, at(5000))
    effects += out
    results = [e for e in effects if isinstance(e, patrol.CheckpointResult)]
    assert sorted(r.checkpoint for r in results) == ["cp-a", "cp-b", "cp-c"]
    assert all(r.result in patrol.CLASSES for r in results)
    ends = [e for e in effects if isinstance(e, patrol.TourEnded)]
    assert len(ends) == 1
    assert (ends[0].status == "completed") == all(r.result != "missed" for r in results)


def test_scheduled_starts_follow_local_time_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    sched = PatrolSchedule("night", (6 * 3600, 22 * 3600), ALWAYS)
    cal = Calendar(berlin)
    # Berlin springs forward on 2026-03-29: 06:00 local is 05:00 UTC before, 04:00 UTC after.
    before = next_start(sched, cal, datetime(2026, 3, 28, 0, 0, tzinfo=UTC), 1)
    after = next_start(sched, cal, datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 1)
    assert before is not None and after is not None
    assert before[1] == datetime(2026, 3, 28, 5, 0, tzinfo=UTC)
    assert after[1] == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
    assert after[1].astimezone(berlin).hour == 6


def test_a_start_in_the_skipped_hour_is_read_before_the_change() -> None:
    sched = PatrolSchedule("r", (2 * 3600 + 1800,), ALWAYS)
    cal = Calendar(ZoneInfo("America/New_York"))  # springs forward 2026-03-08 02:00
    got = next_start(sched, cal, datetime(2026, 3, 8, 0, 0, tzinfo=UTC), 0)
    assert got is not None
    assert got[1] == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_holidays_and_week_plan_decide_the_days() -> None:
    plan = WeekPlan.build("weekdays", {d: ("00:00-24:00",) for d in ("mon", "tue", "wed")})
    cal = Calendar(ZoneInfo("Asia/Shanghai"), {date(2026, 5, 4): "public"})  # a Monday
    sched = PatrolSchedule("r", (8 * 3600,), plan)
    got = next_start(sched, cal, datetime(2026, 5, 3, 0, 0, tzinfo=UTC), 0)
    assert got is not None
    assert got[0].astimezone(cal.zone).date() == date(2026, 5, 5)


@given(seed=st.integers(0, 2**32), day=st.integers(0, 365))
def test_randomised_start_stays_in_its_window_and_is_repeatable(seed: int, day: int) -> None:
    sched = PatrolSchedule("r", (10 * 3600,), ALWAYS, random_s=1800)
    cal = Calendar(ZoneInfo("Asia/Shanghai"))
    after = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)
    got = next_start(sched, cal, after, seed)
    assert got is not None
    nominal, actual = got
    assert nominal <= actual < nominal + timedelta(seconds=1800)
    assert next_start(sched, cal, after, seed) == got
