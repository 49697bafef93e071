"""The duty roster (edgectl/roster.py): who is on duty, in local time, across DST and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from edgectl.confload import Invalid
from edgectl.roster import Duty, on_duty
from rules.schedule import Calendar

BERLIN = ZoneInfo("Europe/Berlin")
ROSTER = (
    Duty("night-guard", "guard", ("22:00-24:00", "00:00-06:00")),
    Duty("day-guard", "guard", ("06:00-22:00",), on_holidays=False),
    Duty("butler", "butler", ("08:00-20:00",), days=("mon", "tue", "wed", "thu", "fri")),
)


def test_shifts_follow_local_time_across_the_spring_change() -> None:
    cal = Calendar(BERLIN)
    # 2026-03-29: 05:30 local is 03:30 UTC after the change (04:30 UTC the day before)
    assert on_duty(ROSTER, "guard", cal, datetime(2026, 3, 29, 3, 30, tzinfo=UTC)) == [
        "night-guard"
    ]
    assert on_duty(ROSTER, "guard", cal, datetime(2026, 3, 29, 4, 30, tzinfo=UTC)) == [
        "day-guard"
    ]  # 06:30 CEST
    assert on_duty(ROSTER, "guard", cal, datetime(2026, 3, 28, 4, 30, tzinfo=UTC)) == [
        "night-guard"
    ]  # 05:30 CET


def test_holidays_and_days_off() -> None:
    cal = Calendar(BERLIN, {date(2026, 5, 1): "public"})  # a Friday
    noon = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert on_duty(ROSTER, "guard", cal, noon) == []  # the day guard is off on holidays
    assert on_duty(ROSTER, "butler", cal, noon) == ["butler"]  # works holidays as weekdays
    assert on_duty(ROSTER, "butler", cal, datetime(2026, 5, 2, 10, 0, tzinfo=UTC)) == []


def test_a_bad_shift_names_itself() -> None:
    with pytest.raises(Invalid, match="shifts\\[0\\]"):
        Duty("x", "guard", ("22:00-06:00",)).validate()
