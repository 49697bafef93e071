"""Patrol settings (``[patrol]``): routes, their checkpoints, how tours start."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from edgectl.confload import Invalid
from rules import patrol as rules
from rules.schedule import parse_time

StartBy = Literal["schedule", "operator", "badge"]


@dataclass(frozen=True, slots=True)
class CheckpointSettings:
    """A reader, door, intercom or tag id, with its window relative to the tour start."""

    id: str
    latest_s: float
    earliest_s: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.earliest_s <= self.latest_s:
            raise Invalid("latest_s", "expected 0 <= earliest_s <= latest_s")


@dataclass(frozen=True, slots=True)
class RouteSettings:
    id: str
    checkpoints: tuple[CheckpointSettings, ...]
    ordered: bool = True
    max_duration_s: float = 3600.0
    max_silence_s: float = 900.0  # the lone-worker limit between badges
    late_s: float = 300.0  # a badge this long after its window is late, later it is missed
    start: tuple[StartBy, ...] = ("operator", "badge")
    times: tuple[str, ...] = ()  # scheduled starts, local "HH:MM"
    schedule: str = "always"  # a week plan (access.schedules) deciding the days
    random_s: float = 0.0  # a scheduled start is put off by up to this, at random
    guard: str = ""  # the guard who walks it; empty: the guard on duty (roster role "guard")

    def validate(self) -> None:
        if not self.checkpoints:
            raise Invalid("checkpoints", "expected at least one checkpoint")
        dup = [c for c, n in Counter(c.id for c in self.checkpoints).items() if n > 1]
        if dup:
            raise Invalid("checkpoints", f"checkpoint {dup[0]!r} appears twice")
        if any(c.latest_s > self.max_duration_s for c in self.checkpoints):
            raise Invalid("max_duration_s", "expected every checkpoint window inside it")
        if self.max_silence_s <= 0 or self.late_s < 0 or self.random_s < 0:
            raise Invalid("max_silence_s", "expected max_silence_s > 0, late_s and random_s >= 0")
        for i, text in enumerate(self.times):
            try:
                parse_time(text)
            except ValueError as exc:
                raise Invalid(f"times[{i}]", str(exc)) from None
        if self.times and "schedule" not in self.start:
            raise Invalid("start", "times are set: add 'schedule' to start")

    def route(self) -> rules.Route:
        return rules.Route(
            self.id,
            tuple(rules.Checkpoint(c.id, c.earliest_s, c.latest_s) for c in self.checkpoints),
            self.ordered,
            self.max_duration_s,
            self.max_silence_s,
            self.late_s,
        )


@dataclass(frozen=True, slots=True)
class Patrol:
    fault_after: int = 3  # this many incomplete tours in a row on a route open a work order
    seed: int = 0  # for randomised starts (the same starts after a restart)
    routes: tuple[RouteSettings, ...] = ()

    def validate(self) -> None:
        if self.fault_after < 1:
            raise Invalid("fault_after", f"expected at least 1, got {self.fault_after}")
        dup = [r for r, n in Counter(r.id for r in self.routes).items() if n > 1]
        if dup:
            raise Invalid("routes", f"duplicate route id {dup[0]!r}")
