"""Work-order lifecycle and deadlines. Pure: every function takes ``now``; none reads a clock.

Lifecycle: ``new -> accepted -> on_site -> diagnosed -> done -> followed_up``, and
``cancelled`` from any open status. Each stage has a deadline per priority (from config):
``accept``, ``on_site``, ``diagnose`` and ``finish`` count from the order's creation,
``follow_up`` from ``done``. A stage is met when its status is reached at or before its
deadline. When a deadline passes, escalation level 0 fires at the deadline, level 1 a step
later, and so on; each level names who is told (``assignee``, ``supervisor``, ...).

The caller keeps one ``Order`` per open order, calls ``tick`` at ``next_deadline`` and
applies the ``Overdue`` notices it returns. Everything needed to recompute the deadlines
(times reached, escalations already sent) is in the ``Order``, so a restart rebuilds the
same schedule from stored times.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

NEW, ACCEPTED, ON_SITE, DIAGNOSED, DONE, FOLLOWED_UP, CANCELLED = (
    "new",
    "accepted",
    "on_site",
    "diagnosed",
    "done",
    "followed_up",
    "cancelled",
)
STATUSES = (NEW, ACCEPTED, ON_SITE, DIAGNOSED, DONE, FOLLOWED_UP, CANCELLED)
LIFECYCLE = (NEW, ACCEPTED, ON_SITE, DIAGNOSED, DONE, FOLLOWED_UP)
CLOSED = frozenset({FOLLOWED_UP, CANCELLED})

# stage -> the status that meets it
STAGES: Mapping[str, str] = MappingProxyType(
    {
        "accept": ACCEPTED,
        "on_site": ON_SITE,
        "diagnose": DIAGNOSED,
        "finish": DONE,
        "follow_up": FOLLOWED_UP,
    }
)
VERDICTS = ("satisfied", "unsatisfied", "unreachable")
NO_FOLLOW_UP_SOURCES = frozenset({"fault"})  # no resident to call back


class Refused(ValueError):
    """A transition the lifecycle does not allow, or one missing what it must carry."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds allowed for each stage (``follow_up`` counts from done, the rest from creation)."""

    accept_s: float
    on_site_s: float
    diagnose_s: float
    finish_s: float
    follow_up_s: float

    def seconds(self, stage: str) -> float:
        value: float = getattr(self, f"{stage}_s")
        return value


@dataclass(frozen=True, slots=True)
class Escalation:
    after_s: float  # after the deadline
    to: str  # "assignee", "supervisor", or a staff id


@dataclass(frozen=True, slots=True)
class Policy:
    deadlines: Mapping[str, Deadlines]  # by priority
    escalation: tuple[Escalation, ...]
    supervisor: str = ""
    _limits: Mapping[str, Mapping[str, timedelta]] = field(init=False, repr=False, compare=False)
    _due_after: tuple[timedelta, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limits = {
            priority: MappingProxyType({s: timedelta(seconds=d.seconds(s)) for s in STAGES})
            for priority, d in self.deadlines.items()
        }
        object.__setattr__(self, "_limits", MappingProxyType(limits))
        # when each level is due after the deadline: overdue is strictly after (1 µs)
        due = tuple(timedelta(seconds=e.after_s, microseconds=1) for e in self.escalation)
        object.__setattr__(self, "_due_after", due)

    def due_after(self) -> tuple[timedelta, ...]:
        return self._due_after

    def limits(self, priority: str) -> Deadlines:
        return self.deadlines.get(priority) or next(iter(self.deadlines.values()))

    def limit(self, priority: str, stage: str) -> timedelta:
        """The time allowed for ``stage`` (an unknown priority gets the first one's)."""
        by_stage = self._limits.get(priority) or next(iter(self._limits.values()))
        return by_stage[stage]


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    priority: str
    source: str
    created_at: datetime
    status: str = NEW
    assignee: str | None = None
    reached: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    escalated: frozenset[tuple[str, int]] = frozenset()  # (stage, level) already sent


@dataclass(frozen=True, slots=True)
class Transition:
    order_id: str
    status: str
    previous: str
    by: str
    at: datetime
    estimated_fix_at: datetime | None = None
    verdict: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Overdue:
    order_id: str
    stage: str
    level: int
    to: str  # the staff id told (the assignee, the supervisor, ...)
    role: str  # the escalation entry's ``to`` as configured
    deadline: datetime
    at: datetime


_NEXT = dict(itertools.pairwise(LIFECYCLE))


def allowed(current: str, to: str) -> bool:
    """Is ``current -> to`` a lifecycle step? (Only the next status, or cancelling.)"""
    if to == CANCELLED:
        return current not in CLOSED and current != DONE
    return _NEXT.get(current) == to


def transition(
    order: Order,
    to: str,
    by: str,
    at: datetime,
    *,
    estimated_fix_at: datetime | None = None,
    verdict: str | None = None,
    note: str = "",
) -> tuple[Order, Transition]:
    """Move ``order`` to ``to``; raise Refused for a step outside the lifecycle."""
    if to not in STATUSES:
        raise Refused(f"unknown status {to!r}; expected one of {', '.join(STATUSES)}")
    if not by:
        raise Refused("a transition needs who made it")
    if not allowed(order.status, to):
        nxt = _NEXT.get(order.status)
        hint = f"next is {nxt!r} (or 'cancelled')" if nxt else "it is closed"
        raise Refused(f"work order {order.id!r} is {order.status!r}: cannot go to {to!r}; {hint}")
    if to == DIAGNOSED and estimated_fix_at is None:
        raise Refused("diagnosed: the estimated fix time is required")
    if to == FOLLOWED_UP and verdict not in VERDICTS:
        raise Refused(f"followed_up: the resident's verdict is required, one of {VERDICTS}")
    reached = dict(order.reached)
    reached[to] = at
    moved = replace(order, status=to, reached=MappingProxyType(reached))
    record = Transition(order.id, to, order.status, by, at, estimated_fix_at, verdict, note)
    return moved, record


def close_recovered(order: Order, at: datetime) -> tuple[Order, Transition] | None:
    """A fault order whose device recovered is done (by the device); None if already past."""
    if order.status in (DONE, *CLOSED):
        return None
    reached = dict(order.reached)
    reached[DONE] = at
    moved = replace(order, status=DONE, reached=MappingProxyType(reached))
    return moved, Transition(order.id, DONE, order.status, "device", at, note="device_recovered")


def reopen(order: Order, at: datetime) -> tuple[Order, Transition]:
    """A fault that repeats reopens its order: back to ``new`` with a fresh clock."""
    moved = replace(
        order, status=NEW, created_at=at, reached=MappingProxyType({}), escalated=frozenset()
    )
    return moved, Transition(order.id, NEW, order.status, "device", at, note="fault_repeated")


_RANK = MappingProxyType({status: i for i, status in enumerate(LIFECYCLE)})
_STAGE_RANK = MappingProxyType({stage: _RANK[status] for stage, status in STAGES.items()})
_ALL_STAGES = tuple(STAGES)
_NO_FOLLOW_UP = tuple(s for s in STAGES if s != "follow_up")


def _stages(order: Order) -> tuple[str, ...]:
    return _NO_FOLLOW_UP if order.source in NO_FOLLOW_UP_SOURCES else _ALL_STAGES


def deadline(order: Order, stage: str, policy: Policy) -> datetime | None:
    """When ``stage`` is due, or None while it cannot start (follow-up before done)."""
    limit = policy.limit(order.priority, stage)
    if stage == "follow_up":
        done = order.reached.get(DONE)
        return done.astimezone(UTC) + limit if done is not None else None
    return order.created_at.astimezone(UTC) + limit  # real elapsed time, whatever the zone


def _pending(order: Order) -> tuple[str, ...]:
    """Stages still to be met: not reached, and the order not cancelled or closed."""
    if order.status in CLOSED:
        return ()
    rank = _RANK[order.status]
    return tuple(s for s in _stages(order) if _STAGE_RANK[s] > rank)


def overdue(order: Order, stage: str, policy: Policy, now: datetime) -> bool:
    """Has ``stage`` missed its deadline at ``now``? (Strictly after the deadline.)"""
    due = deadline(order, stage, policy)
    return stage in _pending(order) and due is not None and now > due


def met(order: Order, stage: str, policy: Policy) -> bool | None:
    """Was ``stage`` met on time? None while it is still open (or does not apply)."""
    if stage not in _stages(order):
        return None
    at = order.reached.get(STAGES[stage])
    due = deadline(order, stage, policy)
    if at is None or due is None:
        return None
    return at <= due


def _recipient(order: Order, policy: Policy, to: str) -> str:
    if to == "assignee":
        return order.assignee or policy.supervisor
    if to == "supervisor":
        return policy.supervisor
    return to


def tick(order: Order, policy: Policy, now: datetime) -> tuple[Order, tuple[Overdue, ...]]:
    """Escalations due at ``now`` (each sent once). A level fires once ``now`` is past the
    deadline plus its offset (level 0 has offset 0: one second after is overdue)."""
    notices: list[Overdue] = []
    sent = set(order.escalated)
    for stage in _pending(order):
        due = deadline(order, stage, policy)
        if due is None:
            continue
        for level, esc in enumerate(policy.escalation):
            if (stage, level) in sent or now <= due + timedelta(seconds=esc.after_s):
                continue
            sent.add((stage, level))
            who = _recipient(order, policy, esc.to)
            notices.append(Overdue(order.id, stage, level, who, esc.to, due, now))
    if not notices:
        return order, ()
    return replace(order, escalated=frozenset(sent)), tuple(notices)


def next_deadline(order: Order, policy: Policy) -> datetime | None:
    """The earliest instant at which ``tick`` would have a notice to send, if any.

    Overdue means strictly after the deadline; the clock here is exact to the microsecond,
    so ``tick`` is due one microsecond after the deadline (plus the level's offset).
    """
    best: datetime | None = None
    for stage in _pending(order):
        due = deadline(order, stage, policy)
        if due is None:
            continue
        # levels rise with their offsets: the first one not sent yet is the stage's next
        for level, after in enumerate(policy.due_after()):
            if (stage, level) not in order.escalated:
                at = due + after
                if best is None or at < best:
                    best = at
                break
    return best
