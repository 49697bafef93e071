"""The swipe never waits on a disk or a lock: another process holds the store's write lock
for 10 s while 100 cards are presented on the reader's pty, through the real daemon.

Every card is decided in under 20 ms (the router's own decision histogram), every gate
command reaches the simulated gate's coil while the lock is still held, and once the lock
goes, all 100 ``access_decided`` events are in the journal and every anti-passback move
is on disk. Nothing is lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from edgectl import metrics
from edgectl.simulation import Compound, simulated_compound
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.journal import read_entries
from tests.access_site import write_cards_csv
from tests.cli_helpers import REPO
from tests.daemon_helpers import running, wait_for

CARDS = 100
FACILITY = 10
LOCK_S = 10.0
AREAS = {"access": {"areas": [{"id": "perimeter", "antipassback": "hard"}]}}


def decisions_within(limit_s: float) -> tuple[float, float]:
    """(decisions so far, those that took at most ``limit_s``) from the router's histogram."""
    within = total = 0.0
    for metric in metrics.DECISION_SECONDS.collect():
        for s in metric.samples:
            if s.name.endswith("_bucket") and s.labels["le"] == str(limit_s):
                within = s.value
            elif s.name.endswith("_count"):
                total = s.value
    return total, within


def opens(compound: Compound) -> int:
    return sum(1 for _, name in compound.gates.gates[1].model.commands if name == "open")


def decided_on_disk(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return sum(1 for e in read_entries(conn, 0, 100000) if e.kind == "access_decided")
    finally:
        conn.close()


async def hold_write_lock(path: str, seconds: float) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.lock_holder",
        path,
        str(seconds),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"locked"
    return proc


def seed(compound: Compound) -> None:
    site = SiteService.open(compound.config)
    try:
        site.define_level("all", ["*"], actor=SYSTEM)
        cards = write_cards_csv(compound.directory / "cards.csv", CARDS, FACILITY, level="all")
        assert site.import_cards(cards, actor=SYSTEM).imported == CARDS
    finally:
        site.close()


async def test_100_cards_decided_and_gated_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    async with simulated_compound(tmp_path, AREAS) as compound:
        seed(compound)
        path = compound.config.store.path
        async with running(compound.config) as (daemon, events):
            await wait_for(events, "gate_state")  # the bus is up and polling
            on_disk = decided_on_disk(path)
            holder = await hold_write_lock(path, LOCK_S)
            total0, fast0 = decisions_within(0.02)
            for number in range(1, CARDS + 1):
                before = opens(compound)
                compound.reader.present("h10301", FACILITY, number)
                async with asyncio.timeout(5):
                    while opens(compound) == before:
                        await asyncio.sleep(0.002)
            assert holder.returncode is None  # every card was decided under the lock
            assert decided_on_disk(path) == on_disk  # and the journal was indeed held up
            total, fast = decisions_within(0.02)
            assert (total - total0, fast - fast0) == (CARDS, CARDS)  # each in under 20 ms
            assert opens(compound) == CARDS  # every gate command on the coil
            assert holder.stdin is not None and holder.stdout is not None
            holder.stdin.write(b"release\n")
            await holder.stdin.drain()
            released = (await asyncio.wait_for(holder.stdout.readline(), 30)).split()
            assert released[0] == b"released" and float(released[1]) >= LOCK_S
            assert await holder.wait() == 0
            got = [await wait_for(events, "access_decided", 30) for _ in range(CARDS)]
            assert all(e.body["granted"] for e in got)
            assert [e.body["credential"] for e in got] == [
                f"h10301:{FACILITY}:{n}" for n in range(1, CARDS + 1)
            ]
            assert await asyncio.to_thread(daemon.index.effects.flush, 30)
        assert decided_on_disk(path) == on_disk + CARDS  # all 100, once the lock went
        conn = sqlite3.connect(path)
        try:
            moves = conn.execute("SELECT count(*) FROM antipassback WHERE state = 'in'")
            assert moves.fetchone()[0] == CARDS  # every decision's effect persisted
        finally:
            conn.close()
