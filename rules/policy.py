"""The site-wide, rarely changing part of access state, built once from the config.

Everything here is immutable; the per-decision part (the credential, the person's levels,
anti-passback position, modes) is in ``rules.access.AccessState``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import Protocol
from zoneinfo import ZoneInfo

from rules.schedule import ALWAYS, NEVER, Calendar, WeekPlan
from rules.settings import Access, Holiday, Schedule


class _Placed(Protocol):
    """A door's or gate's settings as far as the rules read them (by duck typing: the
    settings types belong to the drivers, which rules do not import)."""

    @property
    def id(self) -> str: ...
    @property
    def area(self) -> str: ...


class _Site(Protocol):
    @property
    def zone(self) -> ZoneInfo: ...


class SiteSettings(Protocol):
    """What ``SitePolicy.from_config`` reads of the site config (``edgectl.config.Config``)."""

    @property
    def site(self) -> _Site: ...
    @property
    def access(self) -> Access: ...
    @property
    def doors(self) -> Sequence[_Placed]: ...
    @property
    def gates(self) -> Sequence[_Placed]: ...


DEFAULT_HELD_PREALARM_S = 30.0
DEFAULT_HELD_ALARM_S = 60.0


@dataclass(frozen=True, slots=True)
class Target:
    """A door or gate as the rules see it."""

    id: str
    kind: str  # "door" or "gate"
    area: str
    unlock_s: float = 5.0
    egress: bool = False
    fail_mode: str = "secure"  # "safe" doors unlock without power and in an emergency
    antipassback: str = "off"  # timed anti-passback at this target: off, soft, hard
    antipassback_s: float = 0.0
    area_antipassback: str = "off"  # the target's area: off, soft, hard
    area_reset_s: float = 0.0
    held_prealarm_s: float = DEFAULT_HELD_PREALARM_S
    held_alarm_s: float = DEFAULT_HELD_ALARM_S

    @property
    def released_in_emergency(self) -> bool:
        return self.kind == "gate" or self.egress or self.fail_mode == "safe"


@dataclass(frozen=True, slots=True)
class SitePolicy:
    calendar: Calendar
    plans: Mapping[str, WeekPlan]
    targets: Mapping[str, Target]
    security_roles: frozenset[str]
    degraded_policy: str  # deny_all_but_staff, facility_code_only, carry_on
    max_offline: timedelta
    degraded_facility_codes: frozenset[int]

    def plan(self, schedule_id: str) -> WeekPlan:
        """The named plan; an unknown name is closed (the index logs it when loading)."""
        return self.plans.get(schedule_id, NEVER)

    @classmethod
    def from_config(cls, config: SiteSettings) -> SitePolicy:
        acc = config.access
        plans: dict[str, WeekPlan] = {"always": ALWAYS, "never": NEVER}
        plans.update((s.id, _plan(s)) for s in acc.schedules)
        areas = {a.id: a for a in acc.areas}
        points = {p.target: p for p in acc.points}
        targets: dict[str, Target] = {}
        for kind, items in (("door", config.doors), ("gate", config.gates)):
            for item in items:
                area = areas.get(item.area)
                point = points.get(item.id)
                targets[item.id] = Target(
                    id=item.id,
                    kind=kind,
                    area=item.area,
                    unlock_s=getattr(item, "unlock_s", 0.0),
                    egress=getattr(item, "egress", False),
                    fail_mode=getattr(item, "fail_mode", "secure"),
                    antipassback=point.antipassback if point else "off",
                    antipassback_s=point.antipassback_s if point else 0.0,
                    area_antipassback=area.antipassback if area else "off",
                    area_reset_s=area.reset_s if area else 0.0,
                    held_prealarm_s=point.held_prealarm_s if point else DEFAULT_HELD_PREALARM_S,
                    held_alarm_s=point.held_alarm_s if point else DEFAULT_HELD_ALARM_S,
                )
        return cls(
            calendar=Calendar(
                config.site.zone,
                MappingProxyType({date.fromisoformat(h.date): h.type for h in acc.holidays}),
            ),
            plans=MappingProxyType(plans),
            targets=MappingProxyType(targets),
            security_roles=frozenset(acc.security_roles),
            degraded_policy=acc.degraded_policy,
            max_offline=timedelta(days=acc.max_offline_days),
            degraded_facility_codes=frozenset(acc.degraded_facility_codes),
        )

    def with_site_data(
        self, schedules: Iterable[Schedule], holidays: Iterable[Holiday]
    ) -> SitePolicy:
        """This policy plus the schedules and holidays kept as site data (the CLI's). An id
        or date this policy already has keeps its config definition: the site service
        refuses such an addition, so one can only come from a later config edit."""
        plans = {s.id: _plan(s) for s in schedules if s.id not in self.plans}
        days = {date.fromisoformat(h.date): h.type for h in holidays}
        calendar = Calendar(
            self.calendar.zone, MappingProxyType(days | dict(self.calendar.holidays))
        )
        return replace(self, plans=MappingProxyType({**self.plans, **plans}), calendar=calendar)


def _plan(s: Schedule) -> WeekPlan:
    days = {d: getattr(s, d) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return WeekPlan.build(s.id, days, {h.type: h.segments for h in s.holidays})
