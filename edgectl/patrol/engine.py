"""The patrol engine: tours started by schedule, operator or first badge, kept on the timeline.

Badges come from a guard's handheld over MQTT (``patrol/badge``) or from a door or intercom
badge-in (a granted ``access_decided`` at a reader that is a checkpoint). Every checkpoint
result, tour start and end is stored and journaled; a missed checkpoint and a silent guard
are alarms. ``patrol.fault_after`` incomplete tours in a row on a route open a work order;
a completed tour closes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial

from edgectl.domain import (
    CheckpointMissed,
    Event,
    GuardOverdue,
    PatrolCheckpoint,
    PatrolTour,
)
from edgectl.patrol import store
from edgectl.patrol.settings import Patrol, RouteSettings
from edgectl.roster import on_duty
from edgectl.sitectx import SiteContext
from edgectl.store import kv
from edgectl.store.journal import Entry
from edgectl.workorders.engine import WorkOrderEngine
from edgectl.workorders.store import stamp
from rules import patrol as rules
from rules.patrol_schedule import PatrolSchedule, next_start
from rules.schedule import NEVER, WeekPlan, parse_time

LAST_START = "patrol.last_start.{route}"  # kv: the latest nominal scheduled start taken


class PatrolError(ValueError):
    """An unknown route, or a start this route does not allow."""


class PatrolEngine:
    def __init__(
        self,
        settings: Patrol,
        plans: Mapping[str, WeekPlan],
        site: SiteContext,
        workorders: WorkOrderEngine,
    ) -> None:
        self.settings = settings
        self.site = site
        self.timeline = site.timeline
        self.clock = site.clock
        self.workorders = workorders
        self.config: dict[str, RouteSettings] = {r.id: r for r in settings.routes}
        self.routes = {r.id: r.route() for r in settings.routes}
        self.schedules = {
            r.id: PatrolSchedule(
                r.id,
                tuple(parse_time(t) for t in r.times),
                plans.get(r.schedule, NEVER),
                r.random_s,
            )
            for r in settings.routes
            if r.times
        }
        self.tours: dict[str, rules.Tour] = {}
        self.streak: dict[str, int] = {}  # route -> incomplete tours in a row
        self.last_start: dict[str, datetime] = {}  # route -> the latest scheduled start taken

    # --- state ---------------------------------------------------------------------------

    def load(self) -> int:
        """Rebuild active tours and the next scheduled starts from the store."""
        self.tours.clear()
        for tour in store.load_active(self.site.conn, self.routes):
            self._track(tour)
        for route in self.routes:
            self.streak[route] = store.incomplete_streak(self.site.conn, route)
        for route in self.schedules:
            last = kv.get(self.site.conn, LAST_START.format(route=route))
            if last:
                self.last_start[route] = datetime.fromisoformat(last)
            self._arm_schedule(route)
        return len(self.tours)

    def _track(self, tour: rules.Tour) -> None:
        key = ("tour", tour.id)
        if tour.status != rules.ACTIVE:
            self.tours.pop(tour.id, None)
            self.timeline.cancel(key)
            return
        self.tours[tour.id] = tour
        self.timeline.set(key, rules.next_deadline(tour), partial(self._due, tour.id))

    def _due(self, tour_id: str, now: datetime) -> None:
        tour = self.tours.get(tour_id)
        if tour is not None:
            self._apply(*rules.tick(tour, now))

    def _arm_schedule(self, route: str) -> None:
        now = self.clock() - timedelta(microseconds=1)  # a start due right now still runs
        after = max(now, self.last_start.get(route, now))
        got = next_start(self.schedules[route], self.site.calendar, after, self.settings.seed)
        fire = partial(self._scheduled, route, got[0] if got else None)
        self.timeline.set(("patrol_start", route), got[1] if got else None, fire)

    def _scheduled(self, route: str, nominal: datetime | None, now: datetime) -> None:
        if nominal is not None:
            self.last_start[route] = now
            self.site.write(kv.put, LAST_START.format(route=route), stamp(now))
            self._start(route, "schedule", None, now, "schedule")
        self._arm_schedule(route)

    # --- starting and badging ------------------------------------------------------------

    def _guard_for(self, route: str, now: datetime) -> str:
        fixed = self.config[route].guard
        if fixed:
            return fixed
        staff = on_duty(self.site.roster, "guard", self.site.calendar, now)
        return staff[0] if staff else ""

    def start(
        self, route: str, by: str, guard: str | None = None, channel: str = "mqtt"
    ) -> rules.Tour:
        """An operator starts a tour now."""
        if route not in self.routes:
            raise PatrolError(f"no route {route!r}; known: {sorted(self.routes)}")
        if "operator" not in self.config[route].start:
            raise PatrolError(f"route {route!r} is not started by an operator")
        return self._start(route, by, guard, self.clock(), channel)

    def _start(
        self, route: str, by: str, guard: str | None, now: datetime, channel: str
    ) -> rules.Tour:
        guard = guard or self._guard_for(route, now)
        tour_id = f"{route}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        tour = rules.start(self.routes[route], tour_id, guard, now, by)
        started = PatrolTour(
            source=route, at=now, tour_id=tour_id, status="started", guard=guard, by=by
        )
        details = {"route": route, "guard": guard}
        subject = f"tour {tour_id}"
        self.site.changed(
            by, channel, "patrol_tour_start", subject, details, started, store.insert, tour
        )
        self._track(tour)
        return tour

    def badge(self, checkpoint: str, who: str) -> list[rules.CheckpointResult]:
        """A badge at ``checkpoint`` by ``who`` (a guard or person id; may be empty)."""
        now = self.clock()
        results: list[rules.CheckpointResult] = []
        matched = False
        for tour in list(self.tours.values()):
            if tour.route.checkpoint(checkpoint) is None:
                continue
            if who and tour.guard and who != tour.guard:
                continue
            matched = True
            results += self._apply(*rules.badge(tour, checkpoint, now))
        if not matched:
            for route_id, route in self.routes.items():
                first = route.checkpoints[0].id
                if "badge" in self.config[route_id].start and (checkpoint == first):
                    tour = self._start(route_id, "badge", who or None, now, "badge")
                    results += self._apply(*rules.badge(tour, checkpoint, now))
        return results

    def observe(self, entry: Entry) -> None:
        """A door or intercom badge-in at a checkpoint reader counts as a badge."""
        if entry.kind == "access_decided" and entry.body.get("granted"):
            if any(r.checkpoint(entry.source) for r in self.routes.values()):
                self.badge(entry.source, str(entry.body.get("person_id") or ""))

    # --- effects -------------------------------------------------------------------------

    def _apply(
        self, tour: rules.Tour, effects: tuple[rules.Effect, ...]
    ) -> list[rules.CheckpointResult]:
        results = [e for e in effects if isinstance(e, rules.CheckpointResult)]
        if effects:
            self.site.saved([j for e in effects for j in journaled(e)], store.save, tour, results)
        for e in effects:
            if isinstance(e, rules.TourEnded):
                self._ended(e)
        self._track(tour)
        return results

    def _ended(self, e: rules.TourEnded) -> None:
        """``patrol.fault_after`` incomplete tours in a row open a work order; a completed
        tour closes it."""
        key = f"patrol:{e.route}"
        if e.status == rules.COMPLETED:
            self.streak[e.route] = 0
            self.workorders.recovered(key)
            return
        streak = self.streak[e.route] = self.streak.get(e.route, 0) + 1
        if streak >= self.settings.fault_after:
            self.workorders.fault(
                key,
                e.route,
                f"Patrol route {e.route}: {streak} incomplete tours in a row",
                "patrol",
            )


def journaled(e: rules.Effect) -> list[Event]:
    """The journal events of one of the rules' effects."""
    if isinstance(e, rules.GuardOverdue):
        return [
            GuardOverdue(
                source=e.guard or e.route,
                at=e.at,
                tour_id=e.tour_id,
                route=e.route,
                silent_since=e.silent_since,
            )
        ]
    if isinstance(e, rules.TourEnded):
        return [
            PatrolTour(
                source=e.route,
                at=e.at,
                tour_id=e.tour_id,
                status=e.status,
                guard=e.guard,
                by="patrol",
                missed=e.missed,
            )
        ]
    checkpoint = PatrolCheckpoint(
        source=e.checkpoint,
        at=e.at,
        tour_id=e.tour_id,
        route=e.route,
        result=e.result,
        guard=e.guard,
        badged_at=e.badged_at,
    )
    if e.result != rules.MISSED:
        return [checkpoint]
    missed = CheckpointMissed(
        source=e.checkpoint, at=e.at, tour_id=e.tour_id, route=e.route, guard=e.guard
    )
    return [checkpoint, missed]
