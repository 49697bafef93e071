"""Guard patrol tours. Pure: every step takes ``now``; none reads a clock.

A route is checkpoints in a fixed or free order; each has a window ``[earliest_s,
latest_s]`` relative to the tour start. A badge is classified exactly once, on the first
badge of that checkpoint: ``out_of_order`` (fixed route, an earlier checkpoint still
open), else ``early`` / ``on_time`` / ``late`` by its window (late up to ``late_s`` past
the window). A checkpoint not badged by then is ``missed``. A later badge of a checkpoint
already classified is a repeat and changes nothing.

A tour ends ``completed`` when every checkpoint is classified and none missed,
``incomplete`` when every checkpoint is classified with one missed or ``max_duration_s``
passed. A guard silent (no badge) longer than ``max_silence_s`` raises ``guard_overdue``
once per silence: a lone-worker alarm.

The caller keeps one ``Tour`` per active tour and calls ``tick`` at ``next_deadline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

ON_TIME, EARLY, LATE, MISSED, OUT_OF_ORDER = "on_time", "early", "late", "missed", "out_of_order"
CLASSES = (ON_TIME, EARLY, LATE, MISSED, OUT_OF_ORDER)
ACTIVE, COMPLETED, INCOMPLETE = "active", "completed", "incomplete"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    id: str  # a reader, door, intercom or tag id
    earliest_s: float
    latest_s: float


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    checkpoints: tuple[Checkpoint, ...]
    ordered: bool = True
    max_duration_s: float = 3600.0
    max_silence_s: float = 900.0
    late_s: float = 300.0

    def checkpoint(self, cp_id: str) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.id == cp_id), None)


@dataclass(frozen=True, slots=True)
class Tour:
    id: str
    route: Route
    guard: str
    started_at: datetime
    started_by: str
    status: str = ACTIVE
    classified: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    last_seen: datetime | None = None  # the latest badge (or the start)
    silence_alarmed: bool = False
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    tour_id: str
    route: str
    checkpoint: str
    result: str  # one of CLASSES
    guard: str
    at: datetime
    badged_at: datetime | None


@dataclass(frozen=True, slots=True)
class TourEnded:
    tour_id: str
    route: str
    guard: str
    status: str  # completed or incomplete
    at: datetime
    missed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GuardOverdue:
    tour_id: str
    route: str
    guard: str
    silent_since: datetime
    at: datetime


Effect = CheckpointResult | TourEnded | GuardOverdue


def start(route: Route, tour_id: str, guard: str, at: datetime, by: str) -> Tour:
    return Tour(tour_id, route, guard, at, by, last_seen=at)


def _window(tour: Tour, cp: Checkpoint) -> tuple[datetime, datetime, datetime]:
    s = tour.started_at.astimezone(UTC)  # real elapsed time, whatever the zone
    return (
        s + timedelta(seconds=cp.earliest_s),
        s + timedelta(seconds=cp.latest_s),
        s + timedelta(seconds=cp.latest_s + tour.route.late_s),
    )


def _classify(tour: Tour, cp: Checkpoint, at: datetime) -> str:
    if tour.route.ordered:
        for earlier in tour.route.checkpoints:
            if earlier.id == cp.id:
                break
            if earlier.id not in tour.classified:
                return OUT_OF_ORDER
    earliest, latest, _ = _window(tour, cp)
    if at < earliest:
        return EARLY
    return ON_TIME if at <= latest else LATE


def _finish(tour: Tour, at: datetime, effects: list[Effect]) -> Tour:
    if tour.status != ACTIVE or len(tour.classified) < len(tour.route.checkpoints):
        return tour
    missed = tuple(c.id for c in tour.route.checkpoints if tour.classified[c.id] == MISSED)
    status = INCOMPLETE if missed else COMPLETED
    effects.append(TourEnded(tour.id, tour.route.id, tour.guard, status, at, missed))
    return replace(tour, status=status, ended_at=at)


def badge(tour: Tour, checkpoint: str, at: datetime) -> tuple[Tour, tuple[Effect, ...]]:
    """The guard badged ``checkpoint`` at ``at``. Unknown or repeated badges change nothing."""
    cp = tour.route.checkpoint(checkpoint)
    if tour.status != ACTIVE or cp is None:
        return tour, ()
    tour, effects = _expire(tour, at)  # a badge after its deadline counts after the miss
    if checkpoint in tour.classified or tour.status != ACTIVE:
        return tour, tuple(effects)
    result = _classify(tour, cp, at)
    classified = MappingProxyType({**tour.classified, checkpoint: result})
    tour = replace(tour, classified=classified, last_seen=at, silence_alarmed=False)
    effects.append(CheckpointResult(tour.id, tour.route.id, checkpoint, result, tour.guard, at, at))
    return _finish(tour, at, effects), tuple(effects)


def _expire(tour: Tour, now: datetime) -> tuple[Tour, list[Effect]]:
    effects: list[Effect] = []
    over = now >= tour.started_at + timedelta(seconds=tour.route.max_duration_s)
    classified = dict(tour.classified)
    for cp in tour.route.checkpoints:
        if cp.id not in classified and (over or now > _window(tour, cp)[2]):
            classified[cp.id] = MISSED
            effects.append(
                CheckpointResult(tour.id, tour.route.id, cp.id, MISSED, tour.guard, now, None)
            )
    if effects:
        tour = replace(tour, classified=MappingProxyType(classified))
    return _finish(tour, now, effects), effects


def tick(tour: Tour, now: datetime) -> tuple[Tour, tuple[Effect, ...]]:
    """Advance timers: missed checkpoints, the end of the tour, a silent guard."""
    if tour.status != ACTIVE:
        return tour, ()
    tour, effects = _expire(tour, now)
    silence = _silence_deadline(tour)
    if tour.status == ACTIVE and silence is not None and now >= silence:
        assert tour.last_seen is not None
        effects.append(GuardOverdue(tour.id, tour.route.id, tour.guard, tour.last_seen, now))
        tour = replace(tour, silence_alarmed=True)
    return tour, tuple(effects)


def _silence_deadline(tour: Tour) -> datetime | None:
    if tour.silence_alarmed or tour.last_seen is None:
        return None
    return tour.last_seen + timedelta(seconds=tour.route.max_silence_s)


def next_deadline(tour: Tour) -> datetime | None:
    """When ``tick`` next has something to do, if ever."""
    if tour.status != ACTIVE:
        return None
    candidates = [tour.started_at + timedelta(seconds=tour.route.max_duration_s)]
    for cp in tour.route.checkpoints:
        if cp.id not in tour.classified:
            candidates.append(_window(tour, cp)[2] + timedelta(microseconds=1))
    silence = _silence_deadline(tour)
    if silence is not None:
        candidates.append(silence)
    return min(candidates)
