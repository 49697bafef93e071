"""The daily work-order report: the figures the service centre steers by.

For a local day D:
- orders created on D by source and by priority;
- deadline compliance per stage, in %: of the orders created on D whose stage has come due
  by ``now``, the share that reached it on time (stages still within their deadline are
  ``pending``; an order closed before a stage came due does not count for it);
  follow-up counts the orders done on D;
- the follow-up rate, in %: of the orders done on D that need a follow-up, the share that
  was followed up (at all) by ``now``.

Computed from stored times, so reading it again later (``edgectl workorders report``)
gives the same figures once every stage has come due.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from edgectl.store import kv
from edgectl.workorders import store
from rules import workorders as rules
from rules.schedule import day_bounds

LAST_REPORT = "workorders.last_report"  # kv: the last local day reported


@dataclass(frozen=True, slots=True)
class Report:
    day: str
    created: int
    by_source: dict[str, int]
    by_priority: dict[str, int]
    compliance: dict[str, float | None]  # stage -> % met, None when nothing came due
    pending: dict[str, int]
    follow_up_rate: float | None


def _pct(met: int, total: int) -> float | None:
    return round(100.0 * met / total, 1) if total else None


def daily(
    day: str,
    orders: list[rules.Order],
    start: datetime,
    end: datetime,
    now: datetime,
    policy: rules.Policy,
) -> Report:
    created = [o for o in orders if start <= o.created_at < end]
    done = [
        o
        for o in orders
        if (at := o.reached.get(rules.DONE)) is not None
        and start <= at < end
        and o.source not in rules.NO_FOLLOW_UP_SOURCES
    ]
    compliance: dict[str, float | None] = {}
    pending: dict[str, int] = {}
    for stage in rules.STAGES:
        basis = done if stage == "follow_up" else created
        met = due = waiting = 0
        for o in basis:
            ok = rules.met(o, stage, policy)
            if ok is None:
                deadline = rules.deadline(o, stage, policy)
                ended = o.reached.get(rules.DONE) or o.reached.get(rules.CANCELLED)
                if deadline is None or (ended is not None and ended <= deadline):
                    continue  # closed before this stage came due: it does not count
                if ended is None and now <= deadline:
                    waiting += 1
                    continue
            due += 1
            met += ok is True
        compliance[stage] = _pct(met, due)
        pending[stage] = waiting
    followed = sum(1 for o in done if rules.FOLLOWED_UP in o.reached)
    return Report(
        day=day,
        created=len(created),
        by_source=dict(sorted(Counter(o.source for o in created).items())),
        by_priority=dict(sorted(Counter(o.priority for o in created).items())),
        compliance=compliance,
        pending=pending,
        follow_up_rate=_pct(followed, len(done)),
    )


def report_days(
    conn: sqlite3.Connection,
    days: list[date],
    zone: ZoneInfo,
    now: datetime,
    policy: rules.Policy,
) -> list[tuple[datetime, Report]]:
    """Each day's report with the instant it closed, and the last day marked reported (run
    by the store writer, so every change queued before is already in)."""
    out = []
    for day in days:
        start, end = day_bounds(day, zone)
        orders = store.load_period(conn, start, end)
        out.append((end, daily(day.isoformat(), orders, start, end, now, policy)))
        kv.put(conn, LAST_REPORT, day.isoformat())
    return out
