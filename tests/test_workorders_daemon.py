"""Work orders in the real daemon: deadlines on a fake clock, across a restart and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.ops_site import FakeClock, daemon_at, journal, ops_site, tick, wait_for

# Europe/Berlin springs forward at 02:00 local (01:00 UTC) on 2026-03-29.
BEFORE_DST = datetime(2026, 3, 29, 0, 50, tzinfo=UTC)  # 01:50 CET


async def test_deadlines_escalate_exactly_across_a_restart_and_a_dst_change(
    tmp_path: Path,
) -> None:
    config = ops_site(tmp_path)
    clock = FakeClock(BEFORE_DST)
    async with daemon_at(config, clock) as (daemon, events):
        order = daemon.operations.workorders.create(
            title="Water leak, unit 3-1201",
            priority="service",
            source="desk",
            by="desk-agent",
            channel="cli",
        )
        created = await wait_for(events, "workorder_created")
        assert created.body["assignee"] == "butler-li" and created.body["origin"] == "desk"
        accept_due = BEFORE_DST + timedelta(minutes=15)  # 03:05 CEST: the wall clock skipped
        assert daemon.operations.timeline.next() == accept_due + timedelta(microseconds=1)
        clock.now = accept_due  # at the deadline itself: not overdue yet
        assert daemon.operations.timeline.fire_due(clock()) == 0
        await tick(daemon, clock, seconds=1)
        first = await wait_for(events, "workorder_overdue")
        assert first.body["stage"] in ("accept", "on_site") and first.body["level"] == 0
        assert first.body["to"] == "butler-li"
        assert datetime.fromisoformat(first.body["deadline"]) == accept_due
        daemon.operations.workorders.transition(order.id, "accepted", "butler-li", "cli")
    # down for 20 minutes: the supervisor's step (deadline + 600 s) passes while stopped
    clock.advance(minutes=20)
    async with daemon_at(config, clock) as (daemon, events):
        escalated = await wait_for(events, "workorder_overdue")
        assert escalated.body["level"] == 1 and escalated.body["to"] == "sup-chen"
        assert escalated.body["stage"] == "on_site"  # accept was met late, no longer pending
    overdue = [e.body for e in journal(config, "workorder_overdue")]
    assert sorted((b["stage"], b["level"], b["to"]) for b in overdue) == [
        ("accept", 0, "butler-li"),
        ("on_site", 0, "butler-li"),
        ("on_site", 1, "sup-chen"),
    ]  # each once, none repeated by the restart


async def test_lifecycle_with_estimate_and_verdict_and_the_daily_report(tmp_path: Path) -> None:
    config = ops_site(tmp_path, zone="Asia/Shanghai")
    clock = FakeClock(datetime(2026, 5, 4, 1, 0, tzinfo=UTC))  # 09:00 local
    async with daemon_at(config, clock) as (daemon, events):
        wo = daemon.operations.workorders
        order = wo.create(
            title="Lift noise", priority="service", source="butler", by="b", channel="cli"
        )
        clock.advance(minutes=5)
        wo.transition(order.id, "accepted", "butler-li", "mqtt")
        clock.advance(minutes=5)
        wo.transition(order.id, "on_site", "butler-li", "mqtt")
        clock.advance(minutes=30)
        fix = clock.now + timedelta(hours=2)
        wo.transition(order.id, "diagnosed", "butler-li", "mqtt", estimated_fix_at=fix)
        clock.advance(hours=1)
        wo.transition(order.id, "done", "butler-li", "mqtt")
        clock.advance(hours=3)
        wo.transition(order.id, "followed_up", "butler-li", "cli", verdict="satisfied")
        changes = [(await wait_for(events, "workorder_changed")).body for _ in range(5)]
        assert [c["status"] for c in changes] == [
            "accepted",
            "on_site",
            "diagnosed",
            "done",
            "followed_up",
        ]
        assert changes[2]["estimated_fix_at"] == fix.isoformat()
        assert changes[4]["verdict"] == "satisfied"
        assert order.id not in wo.orders  # closed: no deadline left
        # the next local midnight: the day's report is journaled
        await tick(daemon, clock, hours=16)
        report = await wait_for(events, "workorder_report")
    assert report.body["day"] == "2026-05-04"
    assert report.body["by_source"] == {"butler": 1}
    assert report.body["compliance"] == {
        "accept": 100.0, "on_site": 100.0, "diagnose": 100.0, "finish": 100.0,
        "follow_up": 100.0,
    }  # fmt: skip
    assert report.body["follow_up_rate"] == 100.0
    audits = [  # through the site service, each with its audit event
        e.body for e in journal(config, "site_changed") if e.body["action"].startswith("workorder")
    ]
    assert [(a["action"], a["actor"], a["interface"]) for a in audits] == [
        ("workorder_create", "b", "control"),
        *[("workorder_transition", "butler-li", "mqtt")] * 4,
        ("workorder_transition", "butler-li", "control"),
    ]
    assert audits[3]["details"] == {"status": "diagnosed", "previous": "on_site"}
