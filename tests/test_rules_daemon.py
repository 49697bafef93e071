"""Access scenarios through the real daemon: a card or keypad code on the pty, to the
decision in the journal (anti-passback, visitor pass, card then PIN, lockdown)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.sim.ptys import PtyPair
from drivers.sim.wiegand_converter import SimWiegandConverter
from edgectl.daemon import Daemon
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store import pinkeys
from edgectl.store.credentials import credential_values
from edgectl.store.journal import Entry
from tests.site import door_site
from tests.sync_support import until


async def decided(events: asyncio.Queue[Entry]) -> tuple[bool, str]:
    async with asyncio.timeout(5):
        while True:
            entry = await events.get()
            if entry.kind == "access_decided":
                return entry.body["granted"], entry.body["reason"]


async def test_antipassback_visitor_pass_and_lockdown_end_to_end(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    access = {"points": [{"target": "door-r1", "antipassback": "hard", "antipassback_s": 60}]}
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host}, access=access)
    daemon = Daemon(cfg)
    await daemon.start()
    events = daemon.journal.subscribe()
    reader = SimWiegandConverter(pty_pair.device)
    try:
        # a card written before the driver opens its port is flushed by the open: wait for it
        await until(lambda: daemon.drivers[0].health().online)
        await daemon.site.call(SiteService.add_card, "res-1", 12, 100, actor=SYSTEM)
        await daemon.site.call(SiteService.add_card, "res-2", 12, 200, actor=SYSTEM)
        visitor = await daemon.site.call(
            SiteService.issue_visitor_pass,
            "Guest",
            "res-1",
            datetime.now(UTC) + timedelta(hours=1),
            ["door-r1"],
            uses=1,
            actor=SYSTEM,
        )
        reader.present("h10301", 12, 100)
        assert await decided(events) == (True, "granted")
        reader.present("h10301", 12, 100)
        assert await decided(events) == (False, "antipassback")
        reader.keys(visitor.code)
        assert await decided(events) == (True, "granted")
        reader.keys(visitor.code)
        assert await decided(events) == (False, "visitor_uses_exhausted")
        await daemon.site.call(
            SiteService.add_credential,
            "res-2",
            credential_values(
                "card_pin",
                facility=12,
                number=300,
                pin="2468",
                key=pinkeys.current_key(pinkeys.keyring_path(daemon.config.store.path)),
            ),
            actor=SYSTEM,
        )
        reader.present("h10301", 12, 300)
        assert await decided(events) == (False, "pin_required")
        reader.keys("2468")
        assert await decided(events) == (True, "granted")
        await daemon.site.call(SiteService.set_lockdown, True, actor=SYSTEM)
        reader.present("h10301", 12, 200)
        assert await decided(events) == (False, "lockdown")
        assert await asyncio.wait_for(reader.feedback.get(), 2) is True
    finally:
        reader.close()
        await daemon.stop()
