"""Patrol tours in the real daemon on a fake clock: badges, a missed checkpoint, a silent
guard, a restart in the middle of a tour, scheduled starts across DST, fault orders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tests.cli_helpers import edgectl
from tests.ops_site import FakeClock, daemon_at, journal, ops_site, tick, wait_for

T0 = datetime(2026, 3, 28, 21, 0, tzinfo=UTC)  # 22:00 CET, the night before the DST change


async def test_a_tour_survives_a_restart_and_raises_its_alarms(tmp_path: Path) -> None:
    config = ops_site(tmp_path)
    clock = FakeClock(T0)
    async with daemon_at(config, clock) as (daemon, events):
        patrol = daemon.operations.patrol
        tour = patrol.start("night", "op-anna")
        started = await wait_for(events, "patrol_tour")
        assert (started.body["status"], started.body["guard"], started.body["by"]) == (
            "started", "guard-zhao", "op-anna"
        )  # fmt: skip
        clock.advance(seconds=100)
        patrol.badge("tag-1", "guard-zhao")
        first = await wait_for(events, "patrol_checkpoint")
        assert (first.source, first.body["result"]) == ("tag-1", "on_time")
    clock.advance(seconds=200)  # down while the guard walks on
    async with daemon_at(config, clock) as (daemon, events):
        assert daemon.operations.patrol.tours[tour.id].classified == {"tag-1": "on_time"}
        daemon.operations.patrol.badge("tag-3", "guard-zhao")  # tag-2 skipped: out of order
        skipped = await wait_for(events, "patrol_checkpoint")
        assert (skipped.source, skipped.body["result"]) == ("tag-3", "out_of_order")
        await tick(daemon, clock, seconds=721)  # tag-2's window + late_s is over
        missed = await wait_for(events, "checkpoint_missed")
        assert missed.source == "tag-2" and missed.body["guard"] == "guard-zhao"
        ended = await wait_for(events, "patrol_tour")
        assert (ended.body["status"], ended.body["missed"]) == ("incomplete", ["tag-2"])


async def test_a_silent_guard_raises_the_lone_worker_alarm_once(tmp_path: Path) -> None:
    config = ops_site(tmp_path)
    clock = FakeClock(T0)
    async with daemon_at(config, clock) as (daemon, events):
        daemon.operations.patrol.badge("tag-1", "guard-zhao")  # the first badge starts it
        started = await wait_for(events, "patrol_tour")
        assert started.body["by"] == "badge"
        clock.advance(seconds=599)
        assert daemon.operations.timeline.fire_due(clock()) == 0  # not yet silent too long
        await tick(daemon, clock, seconds=1)
        alarm = await wait_for(events, "guard_overdue")
        assert alarm.source == "guard-zhao" and alarm.cls == "alarm"
    assert len(journal(config, "guard_overdue")) == 1


async def test_scheduled_starts_follow_local_time_across_dst_and_a_restart(
    tmp_path: Path,
) -> None:
    """The route starts at 02:30 local: on 2026-03-29 that hour does not exist in Berlin."""
    config = ops_site(tmp_path)
    clock = FakeClock(T0)
    async with daemon_at(config, clock) as (daemon, _):
        due = daemon.operations.timeline.armed(("patrol_start", "night"))
    assert due == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 read as CET = 03:30 CEST
    clock.now = due
    async with daemon_at(config, clock) as (daemon, events):  # restarted exactly then
        started = await wait_for(events, "patrol_tour")
        assert started.body["by"] == "schedule" and started.at == due
        nxt = daemon.operations.timeline.armed(("patrol_start", "night"))
    assert nxt == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST the next night
    clock.advance(seconds=1)
    async with daemon_at(config, clock) as (daemon, events):  # no second start for that night
        assert daemon.operations.timeline.armed(("patrol_start", "night")) == nxt
    assert len(journal(config, "patrol_tour")) == 1


async def test_incomplete_tours_in_a_row_open_a_work_order(tmp_path: Path) -> None:
    config = ops_site(tmp_path)  # patrol.fault_after = 2
    clock = FakeClock(T0)
    async with daemon_at(config, clock) as (daemon, events):
        for _ in range(2):
            daemon.operations.patrol.start("night", "op-anna")
            await tick(daemon, clock, seconds=1801)  # nothing badged until the tour ends
            while (await wait_for(events, "patrol_tour")).body["status"] != "incomplete":
                pass
        order = await wait_for(events, "workorder_created")
        assert order.body["origin"] == "patrol" and order.body["target"] == "night"
        assert order.body["assignee"] == "eng-wang"
    report = await asyncio.to_thread(
        edgectl, "patrol", "report", "--day", "2026-03-28", "--json",
        "--config", str(tmp_path / "config.toml"),
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert '"tour_incomplete": 2' in report.stdout and '"missed": 6' in report.stdout
