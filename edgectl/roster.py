"""The duty roster: who works which shifts in which role, in site local time.

Work orders are assigned by role to the staff on duty; patrol tours go to the guard on
duty. A shift is one or more ``HH:MM-HH:MM`` segments on its days (a night shift is two
segments, ``22:00-24:00`` and ``00:00-06:00``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from edgectl.confload import Invalid
from rules.schedule import DAYS, Calendar, WeekPlan, parse_segment


@dataclass(frozen=True, slots=True)
class Duty:
    staff: str
    role: str  # butler, engineer, guard, supervisor, ...
    shifts: tuple[str, ...] = ("00:00-24:00",)
    days: tuple[str, ...] = DAYS
    on_holidays: bool = True

    def validate(self) -> None:
        if not self.staff or set(self.staff) & set("/+#\0"):
            raise Invalid(
                "staff", f"expected a staff id without '/', '+' or '#', got {self.staff!r}"
            )
        for i, day in enumerate(self.days):
            if day not in DAYS:
                raise Invalid(f"days[{i}]", f"expected one of {DAYS}, got {day!r}")
        for i, shift in enumerate(self.shifts):
            try:
                parse_segment(shift)
            except ValueError as exc:
                raise Invalid(f"shifts[{i}]", str(exc)) from None

    def plan(self) -> WeekPlan:
        """The shifts as a week plan (closed on holidays; see ``on_duty``)."""
        return WeekPlan.build(self.staff, {d: self.shifts for d in self.days})


def on_duty(roster: Sequence[Duty], role: str, calendar: Calendar, now: datetime) -> list[str]:
    """Staff ids in ``role`` on duty at ``now``, in roster order."""
    weekdays_only = Calendar(calendar.zone)  # for staff who work holidays as weekdays
    out: list[str] = []
    for duty in roster:
        if duty.role != role or duty.staff in out:
            continue
        cal = weekdays_only if duty.on_holidays else calendar
        if cal.closed_reason(duty.plan(), now) is None:
            out.append(duty.staff)
    return out
