"""When scheduled patrol tours start. Pure: ``after`` and the seed are passed in.

A schedule names local times of day and a week plan (the site's plans and holidays, as for
access): a tour starts at each of those times on a day the plan is open at that time. A
start can be randomised within ``random_s`` after the nominal time, so rounds are not
predictable; the offset comes from the seed, the route and the day, so it is the same after
a restart. Local times follow the site zone across DST: a time skipped by the spring change
is read with the offset before it (02:30 becomes 03:30), a repeated time is its first
occurrence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.schedule import Calendar, WeekPlan

LOOKAHEAD_DAYS = 8


@dataclass(frozen=True, slots=True)
class PatrolSchedule:
    route: str
    times: tuple[int, ...]  # seconds since local midnight
    plan: WeekPlan
    random_s: float = 0.0


def local_instant(day: date, second: int, zone: ZoneInfo) -> datetime:
    """The instant of ``second`` past local midnight on ``day`` (fold 0; see module doc)."""
    wall = datetime.combine(day, time(second // 3600, second // 60 % 60, second % 60), zone)
    return wall.astimezone(ZoneInfo("UTC"))


def jitter(seed: int, route: str, day: date, second: int, random_s: float) -> timedelta:
    """A fixed offset in ``[0, random_s)`` for this route's start at ``second`` on ``day``."""
    if random_s <= 0:
        return timedelta(0)
    digest = hashlib.sha256(f"{seed}:{route}:{day.isoformat()}:{second}".encode()).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(seconds=int(share * random_s))


def next_start(
    schedule: PatrolSchedule, calendar: Calendar, after: datetime, seed: int
) -> tuple[datetime, datetime] | None:
    """The next (nominal, actual) start strictly after ``after``, within a week; else None."""
    first = after.astimezone(calendar.zone).date() - timedelta(days=1)
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = first + timedelta(days=offset)
        for second in sorted(schedule.times):
            nominal = local_instant(day, second, calendar.zone)
            if calendar.closed_reason(schedule.plan, nominal) is not None:
                continue
            actual = nominal + jitter(seed, schedule.route, day, second, schedule.random_s)
            if actual > after:
                return nominal, actual
    return None
