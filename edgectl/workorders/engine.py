"""The work-order engine: keeps every open order's deadlines on the site timeline.

Orders are created (by people, by device faults, by patrols and availability), moved
through the lifecycle and escalated here. Each change is stored, then journaled as an
audit event with who and through which channel; ``workorder_overdue`` alarms go to the
journal (and from there to MQTT: the assignee's and supervisor's topics, and the hub).

At start ``load`` rebuilds every open order from the store and arms its next deadline:
deadlines come from stored times, never from timers alone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import structlog

from edgectl.domain import (
    WorkOrderChanged,
    WorkOrderCreated,
    WorkOrderOverdue,
    WorkOrderReport,
)
from edgectl.roster import on_duty
from edgectl.sitectx import SiteContext
from edgectl.store import kv
from edgectl.workorders import report, store
from edgectl.workorders.settings import WorkOrders
from rules import workorders as rules
from rules.schedule import day_bounds

log = structlog.get_logger(__name__)

SOURCES = ("hub", "desk", "operator", "butler", "fault", "patrol", "availability")
AUTOMATIC = frozenset({"fault", "patrol", "availability"})
REPORT_KEY = ("workorders", "report")
REPORT_CATCH_UP_DAYS = 7
REPORT_SETTLE_S = 5.0
MAX_TITLE = 200


class NotFound(LookupError):
    """No such work order (or it is closed)."""


class WorkOrderEngine:
    def __init__(self, settings: WorkOrders, site: SiteContext) -> None:
        self.settings = settings
        self.policy = settings.policy()
        self.site = site
        self.timeline = site.timeline
        self.record = site.record
        self.clock = site.clock
        self.orders: dict[str, rules.Order] = {}  # open orders
        self.faults: dict[str, rules.Order] = {}  # fault key -> its latest order
        self._fault_of: dict[str, str] = {}  # order id -> fault key
        self._last_report = ""

    # --- state ---------------------------------------------------------------------------

    def load(self) -> int:
        """Rebuild every open order and its next deadline from the store."""
        self.orders.clear()
        for order in store.load_open(self.site.conn):
            self._track(order)
        since = self.clock() - timedelta(seconds=self.settings.reopen_window_s)
        for key, order in store.fault_orders(self.site.conn, since).items():
            self._remember_fault(key, order)
        self._last_report = kv.get(self.site.conn, report.LAST_REPORT)
        self._reports_due(self.clock())
        return len(self.orders)

    def _remember_fault(self, key: str, order: rules.Order) -> None:
        self.faults[key] = order
        self._fault_of[order.id] = key

    def reload(self, order_ids: list[str]) -> None:
        """Orders changed outside the engine (pulled from the hub): take them up again."""
        for order in store.load_ids(self.site.conn, order_ids):
            self._track(order)  # a closed one is forgotten

    def _track(self, order: rules.Order) -> None:
        if order.id in self._fault_of:
            self.faults[self._fault_of[order.id]] = order
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
            overdue = [
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
                for n in notices
            ]
            self.site.saved(overdue, store.escalated, notices)
        self._track(moved)

    # --- the daily report ----------------------------------------------------------------

    def _reports_due(self, now: datetime) -> None:
        """Journal the report of every finished day not yet reported, then arm the next."""
        zone = self.site.calendar.zone
        today = now.astimezone(zone).date()
        day = today - timedelta(days=1)
        if self._last_report:
            floor = today - timedelta(days=REPORT_CATCH_UP_DAYS)
            day = max(date.fromisoformat(self._last_report) + timedelta(days=1), floor)
        days = [day + timedelta(days=i) for i in range((today - day).days)]
        if days:
            self._last_report = days[-1].isoformat()
            done = self.site.write(report.report_days, days, zone, now, self.policy)
            loop = asyncio.get_running_loop()
            done.add_done_callback(lambda f: loop.call_soon_threadsafe(self._journal_reports, f))
        _, midnight = day_bounds(today, zone)
        when = midnight + timedelta(seconds=REPORT_SETTLE_S)
        self.timeline.set(REPORT_KEY, when, self._reports_due)

    def _journal_reports(self, done: Future[list[tuple[datetime, report.Report]]]) -> None:
        if done.cancelled() or done.exception() is not None:
            log.error("workorder_report_failed", error=str(done.exception()))
            return
        for end, r in done.result():
            self.record(
                WorkOrderReport(
                    source=self.site.site_id,
                    at=end,
                    day=r.day,
                    created=r.created,
                    by_source=r.by_source,
                    by_priority=r.by_priority,
                    compliance=r.compliance,
                    follow_up_rate=r.follow_up_rate,
                )
            )

    # --- assignment ----------------------------------------------------------------------

    def assignee_for(self, role: str, now: datetime) -> str | None:
        """The first staff member in ``role`` on duty now (roster order), if any."""
        staff = on_duty(self.site.roster, role, self.site.calendar, now)
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
            id=f"{self.site.site_id}-{uuid.uuid4().hex[:12]}",
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
        details = {"source": source, "priority": priority, "assignee": assignee, "target": target}
        created = WorkOrderCreated(
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
        subject = f"work order {new.id}"
        self.site.changed(
            by,
            channel,
            "workorder_create",
            subject,
            details,
            created,
            store.insert,
            new,
            by,
            channel,
        )
        order = rules.Order(new.id, priority, source, now, assignee=assignee)
        if fault_key is not None:
            self._remember_fault(fault_key, order)
        self._track(order)
        return order

    def open_order(self, order_id: str) -> rules.Order:
        order = self.orders.get(order_id)
        if order is not None:
            return order
        row = store.get(self.site.conn, order_id)
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
        moved = replace(order, assignee=assignee)
        # journaled as a change that keeps the status
        t = rules.Transition(
            order_id, order.status, order.status, by, self.clock(), note="assigned"
        )
        details = {"assignee": assignee}
        self._changed(
            moved, t, channel, "workorder_assign", details, store.assign, order_id, assignee, t.at
        )
        return moved

    def _apply(self, moved: rules.Order, t: rules.Transition, channel: str) -> None:
        details = {"status": t.status, "previous": t.previous}
        self._changed(moved, t, channel, "workorder_transition", details, store.record, t, channel)

    def _changed(
        self,
        moved: rules.Order,
        t: rules.Transition,
        channel: str,
        action: str,
        details: dict[str, Any],
        fn: Callable[..., Any],
        *args: Any,
    ) -> None:
        """Store a change to an order (audited), journal it as ``workorder_changed``, re-arm."""
        changed = WorkOrderChanged(
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
        subject = f"work order {t.order_id}"
        self.site.changed(t.by, channel, action, subject, details, changed, fn, *args)
        self._track(moved)

    # --- orders opened and closed by devices ----------------------------------------------

    def fault(self, key: str, target: str, title: str, source: str = "fault") -> str:
        """A fault is active: one open order per fault; a repeat within the window reopens."""
        now = self.clock()
        last = self.faults.get(key)
        if last is not None:
            if last.status not in (rules.DONE, *rules.CLOSED):
                return last.id
            closed_at = max(last.reached.values(), default=last.created_at)
            if now - closed_at <= timedelta(seconds=self.settings.reopen_window_s):
                self._apply(*rules.reopen(last, now), source)
                return last.id
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
        last = self.faults.get(key)
        closed = rules.close_recovered(last, self.clock()) if last is not None else None
        if closed is None:
            return None
        self._apply(*closed, "fault")
        return closed[0].id
