"""The work-order engine: keeps every open order's deadlines on the site timeline.

Orders are created (by people, by device faults, by patrols and availability), moved
through the lifecycle and escalated here. Each change is stored, then journaled as an
audit event with who and through which channel; ``workorder_overdue`` alarms go to the
journal (and from there to MQTT: the assignee's and supervisor's topics, and the hub).

At start ``load`` rebuilds every open order from the store and arms its next deadline:
deadlines come from stored times, never from timers alone.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import structlog

from edgectl.domain import (
    Event,
    WorkOrderChanged,
    WorkOrderCreated,
    WorkOrderOverdue,
    WorkOrderReport,
)
from edgectl.roster import Duty, on_duty
from edgectl.store import kv
from edgectl.timeline import Clock, Timeline
from edgectl.workorders import report, store
from edgectl.workorders.settings import WorkOrders
from rules import workorders as rules
from rules.schedule import Calendar, day_bounds

log = structlog.get_logger(__name__)

Record = Callable[[Event], Any]
SOURCES = ("hub", "desk", "operator", "butler", "fault", "patrol", "availability")
AUTOMATIC = frozenset({"fault", "patrol", "availability"})
LAST_REPORT = "workorders.last_report"  # kv: the last local day reported
REPORT_KEY = ("workorders", "report")
REPORT_CATCH_UP_DAYS = 7
REPORT_SETTLE_S = 5.0
MAX_TITLE = 200


class NotFound(LookupError):
    """No such work order (or it is closed)."""


class WorkOrderEngine:
    def __init__(
        self,
        settings: WorkOrders,
        roster: tuple[Duty, ...],
        calendar: Calendar,
        site_id: str,
        conn: sqlite3.Connection,
        timeline: Timeline,
        record: Record,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.policy = settings.policy()
        self.roster = roster
        self.calendar = calendar
        self.site_id = site_id
        self.conn = conn
        self.timeline = timeline
        self.record = record
        self.clock = clock
        self.orders: dict[str, rules.Order] = {}

    # --- state ---------------------------------------------------------------------------

    def load(self) -> int:
        """Rebuild every open order and its next deadline from the store."""
        self.orders.clear()
        for order in store.load_open(self.conn):
            self._track(order)
        self._reports_due(self.clock())
        return len(self.orders)

    def reload(self, order_ids: list[str]) -> None:
        """Orders changed outside the engine (pulled from the hub): take them up again."""
        fresh = {o.id: o for o in store.load_open(self.conn) if o.id in set(order_ids)}
        for order_id in order_ids:
            if order_id in fresh:
                self._track(fresh[order_id])
            else:
                self._forget(order_id)

    def _track(self, order: rules.Order) -> None:
        if order.status in rules.CLOSED:
            self._forget(order.id)
            return
        self.orders[order.id] = order
        when = rules.next_deadline(order, self.policy)
        self.timeline.set(("workorder", order.id), when, partial(self._due, order.id))

    def _forget(self, order_id: str) -> None:
        self.orders.pop(order_id, None)
        self.timeline.cancel(("workorder", order_id))

    def _due(self, order_id: str, now: datetime) -> None:
        order = self.orders.get(order_id)
        if order is None:
            return
        moved, notices = rules.tick(order, self.policy, now)
        if notices:
            store.escalated(self.conn, notices)
            for n in notices:
                log.warning(
                    "workorder_overdue", order=n.order_id, stage=n.stage, level=n.level, to=n.to
                )
                self.record(
                    WorkOrderOverdue(
                        source="workorders",
                        at=now,
                        order_id=n.order_id,
                        stage=n.stage,
                        level=n.level,
                        to=n.to,
                        role=n.role,
                        deadline=n.deadline,
                        priority=order.priority,
                    )
                )
        self._track(moved)

    # --- the daily report ----------------------------------------------------------------

    def report(self, day: date) -> report.Report:
        start, end = day_bounds(day, self.calendar.zone)
        orders = store.load_period(self.conn, start, end)
        return report.daily(day.isoformat(), orders, start, end, self.clock(), self.policy)

    def _reports_due(self, now: datetime) -> None:
        """Journal the report of every finished day not yet reported, then arm the next."""
        today = now.astimezone(self.calendar.zone).date()
        last = kv.get(self.conn, LAST_REPORT)
        day = today - timedelta(days=1)
        if last:
            floor = today - timedelta(days=REPORT_CATCH_UP_DAYS)
            day = max(date.fromisoformat(last) + timedelta(days=1), floor)
        while day < today:
            r = self.report(day)
            _, end = day_bounds(day, self.calendar.zone)
            self.record(
                WorkOrderReport(
                    source=self.site_id,
                    at=end,
                    day=r.day,
                    created=r.created,
                    by_source=r.by_source,
                    by_priority=r.by_priority,
                    compliance=r.compliance,
                    follow_up_rate=r.follow_up_rate,
                )
            )
            kv.put(self.conn, LAST_REPORT, r.day)
            day += timedelta(days=1)
        _, midnight = day_bounds(today, self.calendar.zone)
        when = midnight + timedelta(seconds=REPORT_SETTLE_S)
        self.timeline.set(REPORT_KEY, when, self._reports_due)

    # --- assignment ----------------------------------------------------------------------

    def assignee_for(self, role: str, now: datetime) -> str | None:
        """The first staff member in ``role`` on duty now (roster order), if any."""
        staff = on_duty(self.roster, role, self.calendar, now)
        return staff[0] if staff else None

    # --- changes -------------------------------------------------------------------------

    def create(
        self,
        *,
        title: str,
        priority: str,
        source: str,
        by: str,
        channel: str,
        detail: str = "",
        target: str | None = None,
        assignee: str | None = None,
        role: str | None = None,
        fault_key: str | None = None,
    ) -> rules.Order:
        """Open an order, assigned explicitly or by role from the duty roster."""
        if priority not in self.settings.priority_names:
            raise rules.Refused(
                f"priority: expected one of {self.settings.priority_names}, got {priority!r}"
            )
        if source not in SOURCES:
            raise rules.Refused(f"source: expected one of {SOURCES}, got {source!r}")
        if not title.strip() or len(title) > MAX_TITLE:
            raise rules.Refused(f"title: expected 1 to {MAX_TITLE} characters")
        now = self.clock()
        s = self.settings
        role = role or (s.fault_role if source in AUTOMATIC else s.default_role)
        assignee = assignee or self.assignee_for(role, now)
        limits = self.policy.limits(priority)
        new = store.NewOrder(
            id=f"{self.site_id}-{uuid.uuid4().hex[:12]}",
            title=title.strip(),
            priority=priority,
            source=source,
            created_at=now,
            respond_by=now + timedelta(seconds=limits.accept_s),
            complete_by=now + timedelta(seconds=limits.finish_s),
            detail=detail,
            target=target,
            assignee=assignee,
            role=role,
            fault_key=fault_key,
        )
        store.insert(self.conn, new, by, channel)
        self.record(
            WorkOrderCreated(
                source=by,
                at=now,
                order_id=new.id,
                channel=channel,
                origin=source,
                priority=priority,
                title=new.title,
                target=target,
                assignee=assignee,
            )
        )
        order = rules.Order(new.id, priority, source, now, assignee=assignee)
        self._track(order)
        return order

    def open_order(self, order_id: str) -> rules.Order:
        order = self.orders.get(order_id)
        if order is not None:
            return order
        row = store.get(self.conn, order_id)
        if row is None:
            raise NotFound(f"no work order {order_id!r}")
        raise rules.Refused(f"work order {order_id!r} is {store.status_of(str(row['status']))}")

    def transition(
        self,
        order_id: str,
        to: str,
        by: str,
        channel: str,
        *,
        estimated_fix_at: datetime | None = None,
        verdict: str | None = None,
        note: str = "",
    ) -> rules.Transition:
        order = self.open_order(order_id)
        moved, t = rules.transition(
            order,
            store.status_of(to),
            by,
            self.clock(),
            estimated_fix_at=estimated_fix_at,
            verdict=verdict,
            note=note,
        )
        self._apply(moved, t, channel)
        return t

    def assign(self, order_id: str, assignee: str, by: str, channel: str) -> rules.Order:
        order = self.open_order(order_id)
        now = self.clock()
        store.assign(self.conn, order_id, assignee, now)
        moved = replace(order, assignee=assignee)
        self.record(
            WorkOrderChanged(
                source=by,
                at=now,
                order_id=order_id,
                channel=channel,
                status=order.status,
                previous=order.status,
                assignee=assignee,
                note="assigned",
            )
        )
        self._track(moved)
        return moved

    def _apply(self, moved: rules.Order, t: rules.Transition, channel: str) -> None:
        store.record(self.conn, t, channel)
        self.record(
            WorkOrderChanged(
                source=t.by,
                at=t.at,
                order_id=t.order_id,
                channel=channel,
                status=t.status,
                previous=t.previous,
                assignee=moved.assignee,
                estimated_fix_at=t.estimated_fix_at,
                verdict=t.verdict,
                note=t.note,
            )
        )
        self._track(moved)

    # --- orders opened and closed by devices ----------------------------------------------

    def fault(self, key: str, target: str, title: str, source: str = "fault") -> str:
        """A fault is active: one open order per fault; a repeat within the window reopens."""
        now = self.clock()
        found = store.by_fault(self.conn, key)
        if found is not None:
            order_id, status, updated = found
            if status not in (rules.DONE, *rules.CLOSED):
                return order_id
            window = timedelta(seconds=self.settings.reopen_window_s)
            if now - updated <= window:
                row = store.get(self.conn, order_id)
                assert row is not None
                closed = rules.Order(
                    order_id,
                    str(row["priority"]),
                    str(row["source"]),
                    datetime.fromisoformat(str(row["created_at"])),
                    status,
                    row["assignee"] if isinstance(row["assignee"], str) else None,
                )
                moved, t = rules.reopen(closed, now)
                self._apply(moved, t, source)
                return order_id
        order = self.create(
            title=title,
            priority=self.settings.fault_priority,
            source=source,
            by="device",
            channel=source,
            target=target,
            fault_key=key,
        )
        return order.id

    def recovered(self, key: str) -> str | None:
        """The fault is over: its open order is done (by the device)."""
        found = store.by_fault(self.conn, key)
        if found is None or found[0] not in self.orders:
            return None
        closed = rules.close_recovered(self.orders[found[0]], self.clock())
        if closed is None:
            return None
        self._apply(*closed, "fault")
        return found[0]
