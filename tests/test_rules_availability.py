"""Facility availability (rules/availability.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rules.availability import Change, Status, compute

DAY = datetime(2026, 5, 4, tzinfo=UTC)
END = DAY + timedelta(days=1)

changes = st.lists(
    st.builds(
        Change,
        at=st.integers(-3600, 90000).map(lambda s: DAY + timedelta(seconds=s)),
        online=st.none() | st.booleans(),
        fault=st.none() | st.booleans(),
    ),
    max_size=30,
)


@given(initial=st.builds(Status, st.booleans(), st.booleans()), events=changes)
def test_availability_is_a_share_and_adds_up_with_the_outages(
    initial: Status, events: list[Change]
) -> None:
    a = compute(initial, events, DAY, END)
    assert 0.0 <= a.share <= 1.0
    down = sum((b - x).total_seconds() for x, b in a.outages)
    assert a.up_s + down == 86400
    for x, b in a.outages:
        assert DAY <= x < b <= END
    mid = DAY + timedelta(hours=13)  # two periods, the second from the first's final state
    first = compute(initial, events, DAY, mid)
    second = compute(first.final, [e for e in events if e.at >= mid], mid, END)
    assert first.up_s + second.up_s == a.up_s
    assert second.final == a.final


def test_one_hour_offline_and_half_an_hour_in_fault() -> None:
    events = [
        Change(DAY + timedelta(hours=2), online=False),
        Change(DAY + timedelta(hours=3), online=True),
        Change(DAY + timedelta(hours=5), fault=True),
        Change(DAY + timedelta(hours=5, minutes=30), fault=False),
    ]
    a = compute(Status(online=True), events, DAY, END)
    assert a.up_s == 86400 - 5400
    assert len(a.outages) == 2
    assert round(a.share, 5) == round(1 - 5400 / 86400, 5)
    assert a.final == Status(online=True)


def test_a_fault_while_offline_counts_once() -> None:
    events = [
        Change(DAY + timedelta(hours=1), online=False),
        Change(DAY + timedelta(hours=1, minutes=10), fault=True),
        Change(DAY + timedelta(hours=2), online=True),
        Change(DAY + timedelta(hours=2, minutes=30), fault=False),
    ]
    a = compute(Status(online=True), events, DAY, END)
    assert a.outages == ((DAY + timedelta(hours=1), DAY + timedelta(hours=2, minutes=30)),)


def test_a_dst_day_is_23_hours_and_its_share_counts_real_time() -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from rules.schedule import day_bounds

    start, end = day_bounds(date(2026, 3, 29), ZoneInfo("Europe/Berlin"))
    assert end - start == timedelta(hours=23)
    a = compute(
        Status(online=True),
        [
            Change(start + timedelta(hours=1), online=False),
            Change(start + timedelta(hours=2), online=True),
        ],
        start,
        end,
    )
    assert a.up_s == 22 * 3600 and round(a.share, 6) == round(22 / 23, 6)
