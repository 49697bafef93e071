"""Settings of the access rules (``[access]`` in the site config): schedules, holidays,
areas, access points and the degraded-mode policy.

Like everything in ``rules/``, this imports nothing from ``edgectl`` but the domain
vocabulary (``edgectl.domain``, where ``Invalid`` lives for that reason).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from edgectl.domain import Invalid
from rules.schedule import DAYS, MAX_SEGMENTS, Window, parse_segment

ROLES = ("resident", "staff", "guard", "contractor", "visitor")
Antipassback = Literal["off", "soft", "hard"]


@dataclass(frozen=True, slots=True)
class HolidayPlan:
    """The segments a schedule allows on days of one holiday type."""

    type: str
    segments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Schedule:
    """A week plan: up to 8 ``"HH:MM[:SS]-HH:MM[:SS]"`` segments a day, in site local time."""

    id: str
    mon: tuple[str, ...] = ()
    tue: tuple[str, ...] = ()
    wed: tuple[str, ...] = ()
    thu: tuple[str, ...] = ()
    fri: tuple[str, ...] = ()
    sat: tuple[str, ...] = ()
    sun: tuple[str, ...] = ()
    holidays: tuple[HolidayPlan, ...] = ()
    name: str = ""  # what staff call it

    @classmethod
    def from_windows(cls, schedule_id: str, windows: Iterable[Window], name: str = "") -> Schedule:
        """A checked schedule from windows (``"mon-fri 07:00-19:00"``, parsed); a day
        named by several windows gets all their segments. Raise Invalid naming the day."""
        days: dict[str, list[str]] = {day: [] for day in DAYS}
        for window in windows:
            for day in window.days:
                days[day].extend(window.segments)
        mon, tue, wed, thu, fri, sat, sun = (tuple(days[day]) for day in DAYS)
        schedule = cls(schedule_id, mon, tue, wed, thu, fri, sat, sun, name=name)
        schedule.validate()
        return schedule

    def windows(self) -> tuple[Window, ...]:
        """The week as windows: days with the same segments together, Monday first."""
        grouped: dict[tuple[str, ...], list[str]] = {}
        for day in DAYS:
            if segments := getattr(self, day):
                grouped.setdefault(segments, []).append(day)
        return tuple(Window(tuple(days), segments) for segments, days in grouped.items())

    def validate(self) -> None:
        if self.id in ("always", "never"):
            raise Invalid("id", f"{self.id!r} is built in; choose another id")
        for day in DAYS:
            _check_segments(day, getattr(self, day))
        for i, plan in enumerate(self.holidays):
            _check_segments(f"holidays[{i}].segments", plan.segments)


def _check_segments(key: str, segments: tuple[str, ...]) -> None:
    if len(segments) > MAX_SEGMENTS:
        raise Invalid(key, f"at most {MAX_SEGMENTS} segments a day, got {len(segments)}")
    for text in segments:
        try:
            parse_segment(text)
        except ValueError as exc:
            raise Invalid(key, str(exc)) from None


@dataclass(frozen=True, slots=True)
class Holiday:
    date: str  # YYYY-MM-DD, a local calendar day
    type: str

    def validate(self) -> None:
        try:
            date.fromisoformat(self.date)
        except ValueError:
            raise Invalid("date", f"expected YYYY-MM-DD, got {self.date!r}") from None


@dataclass(frozen=True, slots=True)
class Area:
    """Anti-passback by area: readers with direction in/out move people in and out of it."""

    id: str
    antipassback: Antipassback = "off"
    reset_s: float = 0.0  # forget a position after this long; 0 keeps it until forgiven


@dataclass(frozen=True, slots=True)
class AccessPoint:
    """Per door or gate access policy: timed anti-passback and held-open alarm times."""

    target: str
    antipassback: Antipassback = "off"
    antipassback_s: float = 0.0  # the same person may not pass again within this time
    held_prealarm_s: float = 30.0
    held_alarm_s: float = 60.0

    def validate(self) -> None:
        if self.antipassback != "off" and self.antipassback_s <= 0:
            raise Invalid("antipassback_s", "expected a positive time for timed anti-passback")
        if not 0 < self.held_prealarm_s <= self.held_alarm_s:
            raise Invalid("held_alarm_s", "expected 0 < held_prealarm_s <= held_alarm_s")


@dataclass(frozen=True, slots=True)
class Access:
    max_offline_days: float = 7.0
    degraded_policy: Literal["deny_all_but_staff", "facility_code_only", "carry_on"] = "carry_on"
    degraded_facility_codes: tuple[int, ...] = ()
    security_roles: tuple[str, ...] = ("guard",)
    holiday_types: tuple[str, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    areas: tuple[Area, ...] = ()
    points: tuple[AccessPoint, ...] = ()
    visitor_code_digits: int = 8
    pin_timeout_s: float = 10.0  # card+PIN: how long after the card the PIN may follow
    # A card matches only in the format it was enrolled in, unless its format is in a group
    # here: formats in one group match each other (e.g. [["h10304", "wiegand37"]]).
    format_aliases: tuple[tuple[str, ...], ...] = ()

    def card_formats(self, fmt: str) -> tuple[str, ...]:
        """The enrolled formats a card presented in ``fmt`` matches."""
        return next((group for group in self.format_aliases if fmt in group), (fmt,))

    def validate(self) -> None:
        grouped: dict[str, int] = {}
        for i, group in enumerate(self.format_aliases):
            for j, name in enumerate(group):
                if name in grouped:
                    raise Invalid(
                        f"format_aliases[{i}][{j}]",
                        f"{name!r} is already in format_aliases[{grouped[name]}]",
                    )
                grouped[name] = i
        for i, role in enumerate(self.security_roles):
            if role not in ROLES:
                raise Invalid(f"security_roles[{i}]", f"expected one of {ROLES}, got {role!r}")
        types = set(self.holiday_types)
        for i, holiday in enumerate(self.holidays):
            if holiday.type not in types:
                raise Invalid(
                    f"holidays[{i}].type",
                    f"unknown holiday type {holiday.type!r}; declared: {sorted(types)}",
                )
        for i, schedule in enumerate(self.schedules):
            for j, plan in enumerate(schedule.holidays):
                if plan.type not in types:
                    raise Invalid(
                        f"schedules[{i}].holidays[{j}].type",
                        f"schedule {schedule.id!r} references unknown holiday type "
                        f"{plan.type!r}; declared in access.holiday_types: {sorted(types)}",
                    )
        for section in ("schedules", "areas"):
            seen = Counter(item.id for item in getattr(self, section))
            for i, item in enumerate(getattr(self, section)):
                if seen[item.id] > 1:
                    raise Invalid(f"{section}[{i}].id", f"duplicate id {item.id!r}")
        if not 4 <= self.visitor_code_digits <= 12:
            raise Invalid("visitor_code_digits", "expected 4 to 12 digits")
