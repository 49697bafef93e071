"""Facility availability and the fault orders of other device families, in the real daemon:
journaled online/offline and fault events in, daily figures and work orders out."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgectl.domain import AccessAlarm, CameraFault, DeviceOffline, DeviceOnline
from edgectl.facilities import figures
from tests.cli_helpers import edgectl
from tests.ops_site import WORKORDERS, FakeClock, daemon_at, journal, ops_site, tick, wait_for

DAY_START = datetime(2026, 5, 3, 16, 0, tzinfo=UTC)  # 2026-05-04 00:00 in Asia/Shanghai


def at(seconds: float) -> datetime:
    return DAY_START + timedelta(seconds=seconds)


async def test_daily_availability_is_exact_and_below_target_opens_an_order(
    tmp_path: Path,
) -> None:
    slow = {**WORKORDERS, "fault_after_s": 3600.0}  # the outage below opens no offline order
    config = ops_site(tmp_path, zone="Asia/Shanghai", workorders=slow)
    clock = FakeClock(at(86000))
    async with daemon_at(config, clock) as (daemon, events):
        emit = daemon.router.emit
        for cam in ("cam-1", "cam-2"):
            emit(DeviceOnline(source=cam, at=at(0)))
        emit(DeviceOffline(source="cam-1", at=at(36000), error="timeout"))
        emit(DeviceOnline(source="cam-1", at=at(36000 + 1728)))  # 2% of the day: on target
        emit(
            CameraFault(
                source="cam-2",
                at=at(40000),
                fault="black",
                active=True,
                measure=2.0,
                threshold=10.0,
            )
        )
        emit(
            CameraFault(
                source="cam-2",
                at=at(47200),
                fault="black",
                active=False,
                measure=2.0,
                threshold=10.0,
            )
        )  # 2 h
        fixed = await wait_for(events, "workorder_changed")  # the camera's fault order
        assert (fixed.body["status"], fixed.body["note"]) == ("done", "device_recovered")
        await tick(daemon, clock, seconds=405)  # local midnight + 5 s
        figures_by = {}
        for _ in range(2):
            e = await wait_for(events, "facility_availability")
            figures_by[e.source] = e.body
        order = await wait_for(events, "workorder_created")
    assert figures_by["cam-1"]["share"] == 0.98 and figures_by["cam-1"]["outages"] == 1
    assert figures_by["cam-2"]["share"] == round(1 - 7200 / 86400, 6)
    assert order.body["origin"] == "availability" and order.body["target"] == "cam-2"
    # after a restart the day is computed the same way from the journal
    from edgectl.store.db import connect

    conn = connect(config.store.path, readonly=True)
    try:
        again = figures.device_day(conn, "cam-2", DAY_START.astimezone(config.site.zone).date(),
                                   config.site.zone)  # fmt: skip
    finally:
        conn.close()
    assert again.up_s == 86400 - 7200
    shown = await asyncio.to_thread(
        edgectl, "facilities", "report", "--day", "2026-05-04", "--json",
        "--config", str(tmp_path / "config.toml"),
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    devices = {d["device"]: d for d in json.loads(shown.stdout)["devices"]}
    assert devices["cam-2"]["below_target"] is True and devices["cam-1"]["below_target"] is False


async def test_offline_too_long_held_open_and_camera_faults_open_one_order_each(
    tmp_path: Path,
) -> None:
    config = ops_site(tmp_path, zone="Asia/Shanghai")  # workorders.fault_after_s = 60
    clock = FakeClock(at(0))
    async with daemon_at(config, clock) as (daemon, events):
        emit = daemon.router.emit
        emit(DeviceOffline(source="intercom-1", at=clock(), error="no answer"))
        emit(DeviceOffline(source="intercom-1", at=clock() + timedelta(seconds=30), error="x"))
        await wait_for(events, "device_offline")
        await wait_for(events, "device_offline")
        clock.advance(seconds=59)
        assert daemon.operations.timeline.fire_due(clock()) == 0  # within the grace time
        await tick(daemon, clock, seconds=2)
        offline = await wait_for(events, "workorder_created")
        assert offline.body["target"] == "intercom-1"  # from the first report, not the repeat
        emit(AccessAlarm(source="lobby-a", at=clock(), alarm="held_open", target="lobby-a"))
        emit(AccessAlarm(source="lobby-a", at=clock(), alarm="held_open", target="lobby-a"))
        held = await wait_for(events, "workorder_created")
        assert "held open" in held.body["title"]
        emit(
            CameraFault(
                source="cam-9", at=clock(), fault="moved", active=True, measure=0.4, threshold=0.2
            )
        )
        cam = await wait_for(events, "workorder_created")
        assert cam.body["target"] == "cam-9" and "moved" in cam.body["title"]
        emit(DeviceOnline(source="intercom-1", at=clock()))
        closed = await wait_for(events, "workorder_changed")
        assert closed.body["order_id"] == offline.body["order_id"]
        assert closed.body["status"] == "done"
    assert len(journal(config, "workorder_created")) == 3  # the repeated alarm: no duplicate
