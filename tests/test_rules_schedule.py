"""Week plans, holidays and DST: boundaries exact to the second in the site's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.config import ConfigError
from rules.schedule import Calendar, WeekPlan, parse_segment, parse_time
from tests.access_site import access_site

NY = ZoneInfo("America/New_York")


def hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@settings(max_examples=200)
@given(st.integers(0, 86399), st.integers(1, 86400))
def test_segment_text_round_trips_to_the_second(start: int, length: int) -> None:
    end = min(86400, start + length)
    assert parse_segment(f"{hms(start)}-{hms(end)}") == (start, end)


@pytest.mark.parametrize("bad", ["8:00-9:00", "09:00-08:00", "10:00-10:00", "24:01-24:00", "x"])
def test_bad_segments_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_segment(bad)


@settings(max_examples=400)
@given(
    st.integers(0, 86399),
    st.integers(1, 7200),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
)
def test_open_exactly_inside_the_segment_in_local_time_across_dst(
    start: int, length: int, instant: datetime
) -> None:
    """Any UTC instant (DST days included): open iff local wall-clock second is in [a, b)."""
    end = min(86400, start + length)
    segment = f"{hms(start)}-{hms(end)}"
    plan = WeekPlan.build("p", {d: (segment,) for d in ("mon", "tue", "wed", "thu", "fri")})
    now = instant.replace(tzinfo=UTC)
    local = now.astimezone(NY)
    second = local.hour * 3600 + local.minute * 60 + local.second
    expected = local.weekday() < 5 and start <= second < end
    reason = Calendar(NY).closed_reason(plan, now)
    assert (reason is None) == expected
    if not expected:
        assert reason == "outside_schedule"


def test_boundaries_on_the_spring_forward_and_fall_back_days() -> None:
    plan = WeekPlan.build("p", {"sun": ("01:30:00-03:00:00", "08:00:00-08:00:01")})
    cal = Calendar(NY)

    def at(y: int, m: int, d: int, h: int, mi: int, s: int, fold: int = 0) -> datetime:
        return datetime(y, m, d, h, mi, s, tzinfo=NY, fold=fold).astimezone(UTC)

    # 2026-03-08: 02:00 EST jumps to 03:00 EDT. 01:59:59 is open, the next second is 03:00.
    assert cal.closed_reason(plan, at(2026, 3, 8, 1, 59, 59)) is None
    assert cal.closed_reason(plan, at(2026, 3, 8, 1, 59, 59) + timedelta(seconds=1))
    # exactly one second wide, at 08:00:00 local (EDT)
    assert cal.closed_reason(plan, at(2026, 3, 8, 8, 0, 0)) is None
    assert cal.closed_reason(plan, at(2026, 3, 8, 8, 0, 1)) == "outside_schedule"
    assert cal.closed_reason(plan, at(2026, 3, 8, 7, 59, 59)) == "outside_schedule"
    # 2026-11-01: 01:30 happens twice; both are inside 01:30-03:00, 03:00 is not.
    assert cal.closed_reason(plan, at(2026, 11, 1, 1, 30, 0, fold=0)) is None
    assert cal.closed_reason(plan, at(2026, 11, 1, 1, 30, 0, fold=1)) is None
    assert cal.closed_reason(plan, at(2026, 11, 1, 1, 29, 59, fold=0)) == "outside_schedule"
    assert cal.closed_reason(plan, at(2026, 11, 1, 3, 0, 0)) == "outside_schedule"


def test_holiday_types_use_their_own_plan() -> None:
    plan = WeekPlan.build("p", {"thu": ("08:00-18:00",)}, {"festival": ("10:00-12:00",)})
    days = {date(2026, 10, 1): "festival", date(2026, 10, 8): "national"}
    cal = Calendar(ZoneInfo("Asia/Shanghai"), MappingProxyType(days))
    shanghai = ZoneInfo("Asia/Shanghai")
    assert cal.closed_reason(plan, datetime(2026, 10, 1, 11, tzinfo=shanghai)) is None
    assert cal.closed_reason(plan, datetime(2026, 10, 1, 9, tzinfo=shanghai)) == "holiday"
    assert cal.closed_reason(plan, datetime(2026, 10, 8, 9, tzinfo=shanghai)) == "holiday"
    assert cal.closed_reason(plan, datetime(2026, 10, 15, 9, tzinfo=shanghai)) is None


def test_schedule_with_a_missing_holiday_type_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        access_site(
            tmp_path,
            holiday_types=["national"],
            schedules=[{"id": "office", "mon": ["08:00-18:00"], "holidays": [{"type": "xmas"}]}],
        )
    assert err.value.key == "access.schedules[0].holidays[0].type"
    assert "unknown holiday type 'xmas'" in str(err.value)


def test_more_than_eight_segments_a_day_is_a_config_error(tmp_path: Path) -> None:
    nine = [f"{h:02d}:00-{h:02d}:30" for h in range(9)]
    with pytest.raises(ConfigError, match="at most 8 segments"):
        access_site(tmp_path, schedules=[{"id": "busy", "tue": nine}])


def test_time_of_day_parsing() -> None:
    assert parse_time("24:00") == 86400
    assert parse_time("07:05:09") == 7 * 3600 + 5 * 60 + 9


@settings(max_examples=300)
@given(
    st.integers(1, 86398),
    st.integers(1, 7200),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/Berlin"]),
)
def test_first_second_in_last_second_in_and_end_out(
    start: int, length: int, day: date, zone_name: str
) -> None:
    end = min(86400, start + length)
    zone = ZoneInfo(zone_name)
    plan = WeekPlan.build(
        "p",
        {
            d: (f"{hms(start)}-{hms(end)}",)
            for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    )
    cal = Calendar(zone)
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    for second, inside in ((start - 1, False), (start, True), (end - 1, True), (end, False)):
        if second >= 86400:
            continue
        local = midnight + timedelta(seconds=second)  # wall-clock arithmetic in the zone
        now = local.astimezone(UTC)
        if now.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
            continue  # this wall-clock second does not exist (DST gap)
        assert (cal.closed_reason(plan, now) is None) == inside, (local, inside)
