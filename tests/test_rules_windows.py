"""Schedule windows (``"mon-fri 07:00-19:00"``, the CLI's form), holiday dates, and site-data
schedules and holidays merged into the config's policy: pure, with time passed in."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.store.calendar import parse_day
from edgectl.store.credentials import CredentialError
from rules.policy import SitePolicy
from rules.schedule import DAYS, Window, format_window, parse_window
from rules.settings import Holiday, Schedule
from tests.access_site import access_site


def hm(seconds: int, with_seconds: bool) -> str:
    text = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return f"{text}:{seconds % 60:02d}" if with_seconds else text


@st.composite
def segments(draw: st.DrawFn) -> str:
    start = draw(st.integers(0, 86399))
    end = draw(st.integers(start + 1, 86400))
    with_seconds = draw(st.booleans())
    if not with_seconds:  # HH:MM form: whole minutes, still start < end
        start, end = start - start % 60, end - end % 60
        if start >= end:
            end = start + 60
    return f"{hm(start, with_seconds)}-{hm(end, with_seconds)}"


days = st.sets(st.sampled_from(DAYS), min_size=1).map(lambda s: tuple(d for d in DAYS if d in s))
windows = st.builds(Window, days, st.lists(segments(), min_size=1, max_size=4).map(tuple))


@settings(max_examples=300)
@given(windows)
def test_window_text_round_trips(window: Window) -> None:
    text = format_window(window)
    assert parse_window(text) == window
    assert format_window(parse_window(text)) == text


@settings(max_examples=200)
@given(windows, st.randoms())
def test_days_in_any_order_and_spelling_name_the_same_days(
    window: Window, rnd: random.Random
) -> None:
    listed = list(window.days)
    rnd.shuffle(listed)
    text = " ".join((",".join(d.upper() for d in listed), *window.segments))
    assert parse_window(text) == window


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(DAYS), st.lists(segments(), min_size=1, max_size=8)))
def test_a_schedule_rebuilt_from_its_windows_is_the_same_schedule(
    week: dict[str, list[str]],
) -> None:
    mon, tue, wed, thu, fri, sat, sun = (tuple(week.get(d, ())) for d in DAYS)
    schedule = Schedule("s", mon, tue, wed, thu, fri, sat, sun, name="n")
    assert Schedule.from_windows("s", schedule.windows(), "n") == schedule


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected days then times, like 'mon-fri 07:00-19:00'"),
        ("mon-fri", "expected days then times"),
        ("mon-fir 07:00-19:00", "unknown day 'fir' in 'mon-fir'"),
        ("mon,,tue 07:00-19:00", "unknown day ''"),
        ("fri-mon 07:00-19:00", "day range 'fri-mon' runs backwards; ranges run mon to sun "
         "(write 'fri-sun,mon')"),
        ("mon-fri 07:00", "expected a segment like '08:00-18:00', got '07:00'"),
        ("mon-fri 19:00-07:00", "segment '19:00-07:00' ends before it starts"),
        ("mon-fri 7:00-19:00", "expected HH:MM or HH:MM:SS, got '7:00'"),
        ("mon-fri 07:00-24:30", "no such time of day: '24:30'"),
    ],
)  # fmt: skip
def test_bad_windows_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_window(text)


def test_more_than_eight_segments_a_day_is_refused_naming_the_day() -> None:
    many = [parse_window(f"tue {h:02d}:00-{h:02d}:30") for h in range(9)]
    with pytest.raises(ValueError, match=r"^tue: at most 8 segments a day, got 9$"):
        Schedule.from_windows("s", many)


def test_site_schedules_and_holidays_join_the_config_policy(tmp_path: Path) -> None:
    cfg = access_site(
        tmp_path,
        holiday_types=["national"],
        holidays=[{"date": "2026-10-01", "type": "national"}],
        schedules=[{"id": "office", "mon": ["08:00-18:00"]}],
    )
    base = SitePolicy.from_config(cfg)
    day = Schedule.from_windows("day", [parse_window("mon-fri 07:00-19:00")])
    shadow = Schedule.from_windows("office", [parse_window("mon-sun 00:00-24:00")])
    policy = base.with_site_data([day, shadow], [Holiday("2026-12-07", "holiday")])
    monday_8am = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    monday_8pm = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    holiday_8am = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # a Monday, a site holiday
    cal = policy.calendar
    assert cal.closed_reason(policy.plan("day"), monday_8am) is None
    assert cal.closed_reason(policy.plan("day"), monday_8pm) == "outside_schedule"
    assert cal.closed_reason(policy.plan("day"), holiday_8am) == "holiday"
    assert cal.closed_reason(policy.plan("always"), holiday_8am) is None
    # the config's office keeps its definition and its holiday; the base is unchanged
    assert cal.closed_reason(policy.plan("office"), monday_8pm) == "outside_schedule"
    assert dict(cal.holidays) == {
        datetime(2026, 10, 1).date(): "national",
        datetime(2026, 12, 7).date(): "holiday",
    }
    assert "day" not in base.plans and len(base.calendar.holidays) == 1


@settings(max_examples=200)
@given(st.dates())
def test_holiday_dates_are_read_in_iso_form_and_stored_in_the_extended_one(day: date) -> None:
    assert parse_day(day.isoformat()) == day.isoformat()
    basic = f"{day.year:04d}{day.month:02d}{day.day:02d}"  # ISO basic form
    assert parse_day(basic) == day.isoformat()


@pytest.mark.parametrize("bad", ["25/12/2026", "2026-13-01", "2026-02-30", "Dec 25", ""])
def test_other_date_forms_are_refused_naming_the_form(bad: str) -> None:
    with pytest.raises(CredentialError, match=re.escape(f"date: expected YYYY-MM-DD, got {bad!r}")):
        parse_day(bad)
