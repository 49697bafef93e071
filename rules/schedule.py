"""Week plans and the holiday calendar, evaluated in the site's local wall-clock time.

A plan holds up to 8 segments a day, each ``[start, end)`` in seconds since local midnight
(start included, end excluded, exact to the second). A day in the holiday calendar uses the
plan's segments for that holiday type instead of its weekday; a plan with no segments for
that type is closed on that holiday. ``now`` is converted to the site zone with
``astimezone``, so DST changes need no special case: a segment means the local wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SEGMENTS = 8
DAY_S = 86400

Segment = tuple[int, int]


def parse_time(text: str) -> int:
    """``"HH:MM"`` or ``"HH:MM:SS"`` to seconds since midnight; ``"24:00"`` is the day's end."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"expected HH:MM or HH:MM:SS, got {text!r}")
    h, m, s = (int(p) for p in (*parts, "00")[:3])
    if m > 59 or s > 59 or h > 24 or (h == 24 and (m or s)):
        raise ValueError(f"no such time of day: {text!r}")
    return h * 3600 + m * 60 + s


def parse_segment(text: str) -> Segment:
    """``"08:00-12:30"`` to ``(28800, 45000)``; the start must come before the end."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"expected a segment like '08:00-18:00', got {text!r}")
    a, b = parse_time(start), parse_time(end)
    if a >= b:
        raise ValueError(f"segment {text!r} ends before it starts")
    return a, b


@dataclass(frozen=True, slots=True)
class Window:
    """Days of the week (Monday first, no repeats) open during the same segments: the
    ``"mon-fri 07:00-19:00"`` form the CLI takes (``parse_window``, ``format_window``)."""

    days: tuple[str, ...]
    segments: tuple[str, ...]


def parse_days(text: str) -> tuple[str, ...]:
    """``"mon-fri"``, ``"sat,sun"`` or ``"mon,wed-fri"`` to days in week order."""
    days: set[int] = set()
    for item in text.lower().split(","):
        first, sep, last = item.partition("-")
        start = _day_index(first, text)
        end = _day_index(last, text) if sep else start
        if end < start:
            wrapped = f"{first}-sun,{'mon' if end == 0 else 'mon-' + last}"
            raise ValueError(
                f"day range {item!r} runs backwards; ranges run mon to sun (write {wrapped!r})"
            )
        days.update(range(start, end + 1))
    return tuple(DAYS[i] for i in sorted(days))


def _day_index(name: str, text: str) -> int:
    if name not in DAYS:
        raise ValueError(f"unknown day {name!r} in {text!r}; expected {', '.join(DAYS)}")
    return DAYS.index(name)


def parse_window(text: str) -> Window:
    """``"mon-fri 07:00-12:00 13:00-19:00"``: days, then one or more segments; raise
    ValueError naming what is wrong."""
    parts = text.split()
    if len(parts) < 2:
        raise ValueError(f"expected days then times, like 'mon-fri 07:00-19:00', got {text!r}")
    days, *segments = parts
    for segment in segments:
        parse_segment(segment)
    return Window(parse_days(days), tuple(segments))


def format_window(window: Window) -> str:
    """The text ``parse_window`` reads back as ``window``; runs of days as ranges."""
    indexes = [DAYS.index(d) for d in window.days]
    runs: list[list[int]] = []
    for i in indexes:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    days = ",".join(DAYS[r[0]] if len(r) == 1 else f"{DAYS[r[0]]}-{DAYS[r[-1]]}" for r in runs)
    return " ".join((days, *window.segments))


def _open(segments: tuple[Segment, ...], second: int) -> bool:
    return any(a <= second < b for a, b in segments)


@dataclass(frozen=True, slots=True)
class WeekPlan:
    """Segments for each weekday (Monday first) and for each holiday type."""

    id: str
    days: tuple[tuple[Segment, ...], ...]
    holidays: Mapping[str, tuple[Segment, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    on_any_holiday: tuple[Segment, ...] | None = None  # used for every holiday type if set

    @classmethod
    def build(
        cls,
        plan_id: str,
        days: Mapping[str, tuple[str, ...]],
        holidays: Mapping[str, tuple[str, ...]] | None = None,
    ) -> WeekPlan:
        """A plan from segment strings; raise ValueError naming a bad segment."""
        week = tuple(tuple(parse_segment(t) for t in days.get(d, ())) for d in DAYS)
        for day, segs in zip(DAYS, week, strict=True):
            if len(segs) > MAX_SEGMENTS:
                raise ValueError(f"{plan_id}: {day} has {len(segs)} segments, at most 8")
        hol = {t: tuple(parse_segment(s) for s in segs) for t, segs in (holidays or {}).items()}
        return cls(plan_id, week, MappingProxyType(hol))

    def segments_on(self, day: date, holiday_type: str | None) -> tuple[Segment, ...]:
        if holiday_type is not None:
            if self.on_any_holiday is not None:
                return self.on_any_holiday
            return self.holidays.get(holiday_type, ())
        return self.days[day.weekday()]


ALWAYS = WeekPlan("always", (((0, DAY_S),),) * 7, on_any_holiday=((0, DAY_S),))
NEVER = WeekPlan("never", ((),) * 7, on_any_holiday=())


@dataclass(frozen=True, slots=True)
class Calendar:
    """The site zone and its holidays: local date -> holiday type."""

    zone: ZoneInfo
    holidays: Mapping[date, str] = field(default_factory=lambda: MappingProxyType({}))

    def closed_reason(self, plan: WeekPlan, now: datetime) -> str | None:
        """``None`` if ``plan`` is open at ``now``, else ``"holiday"`` or ``"outside_schedule"``."""
        local = now.astimezone(self.zone)
        day = local.date()
        holiday = self.holidays.get(day)
        second = local.hour * 3600 + local.minute * 60 + local.second
        if _open(plan.segments_on(day, holiday), second):
            return None
        return "holiday" if holiday is not None else "outside_schedule"


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local calendar day as UTC instants ``[start, end)`` (23 or 25 hours across DST)."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))
