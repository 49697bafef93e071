"""A schedule, a level on it and a holiday, all added from the CLI while the daemon runs: the
next swipe is decided on them, with no restart. Time is the daemon's clock."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from drivers.sim.ptys import PtyPair
from drivers.sim.wiegand_converter import SimWiegandConverter
from edgectl.site.actor import Actor
from edgectl.site.service import SiteService
from tests.cli_helpers import edgectl_async
from tests.daemon_helpers import running, wait_for
from tests.site import door_site
from tests.sync_support import until

MONDAY_9AM = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Asia/Shanghai is UTC+8
MONDAY_8PM = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TUESDAY_9AM = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


async def test_cli_schedule_and_holiday_decide_swipes_in_the_running_daemon(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    conf, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    now = [MONDAY_9AM]
    async with running(cfg, lambda: now[0]) as (daemon, events):
        reader = SimWiegandConverter(pty_pair.device)

        async def swipe() -> tuple[bool, str]:
            reader.present("h10301", 12, 100)
            entry = await wait_for(events, "access_decided")
            return entry.body["granted"], entry.body["reason"]

        async def cli(*args: str) -> str:
            code, out = await edgectl_async(*args, "-c", str(conf))
            assert code == 0, out
            return out

        try:
            await until(lambda: daemon.drivers[0].health().online)
            await cli("schedules", "add", "day", "-w", "mon-fri 07:00-19:00")
            await cli("levels", "add", "staff", "-t", "door-r1", "-s", "day")
            await cli("people", "add", "res-1", "-l", "staff")
            await cli("cards", "add", "res-1", "--card", "12:100")
            assert await swipe() == (True, "granted")
            now[0] = MONDAY_8PM
            assert await swipe() == (False, "outside_schedule")

            now[0] = TUESDAY_9AM
            assert await swipe() == (True, "granted")
            await cli("holidays", "add", "2026-12-01", "--name", "Founders Day")
            assert await swipe() == (False, "holiday")

            # the daemon's own path (the site worker): audited, fanned out, taken up at once
            actor = Actor("op-7", "mqtt")
            await daemon.site.call(SiteService.remove_holiday, "2026-12-01", actor=actor)
            audit = await wait_for(events, "site_changed")
            assert (audit.body["actor"], audit.body["interface"]) == ("op-7", "mqtt")
            assert audit.body["action"] == "holiday_remove"
            assert await swipe() == (True, "granted")
        finally:
            reader.close()

    with sqlite3.connect(cfg.store.path) as conn:
        rows = conn.execute("SELECT body FROM journal WHERE kind = 'site_changed' ORDER BY seq")
        audits = [json.loads(r[0]) for r in rows]
    assert [(a["action"], a["subject"], a["interface"]) for a in audits] == [
        ("schedule_add", "schedule day", "cli"),
        ("level_define", "level staff", "cli"),
        ("person_add", "person res-1", "cli"),
        ("credential_add", "card 12:100", "cli"),
        ("holiday_add", "holiday 2026-12-01", "cli"),
        ("holiday_remove", "holiday 2026-12-01", "mqtt"),
    ]
