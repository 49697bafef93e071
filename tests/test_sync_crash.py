"""SIGKILL the writer at random points of a 10,000-event burst while the hub link flaps:
the hub ends up with every committed event exactly once, in order, with no gap."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

from tests.conftest import RefHub

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 10_000


async def flap(hub: RefHub, rnd: random.Random) -> None:
    """Take the hub down and up again, at random, until cancelled."""
    while True:
        await asyncio.sleep(rnd.uniform(0.2, 0.8))
        await hub.stop()
        await asyncio.sleep(rnd.uniform(0.05, 0.4))
        await hub.start()


async def spawn(db: Path, hub: RefHub, acklog: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tests" / "sync_burst.py"),
        str(db),
        hub.url,
        hub.token,
        str(TOTAL),
        str(acklog),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


def journal_head(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT max(seq) FROM journal").fetchone()
        return int(row[0] or 0)
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


async def test_sigkill_during_burst_with_flapping_hub(tmp_path: Path, ref_hub: RefHub) -> None:
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "5")))
    db, acklog = tmp_path / "edge.db", tmp_path / "acked.log"
    flapper = asyncio.create_task(flap(ref_hub, rnd))
    kills, heads = 0, []
    try:
        while kills < 8:
            proc = await spawn(db, ref_hub, acklog)
            await asyncio.sleep(rnd.uniform(0.5, 1.3))
            if proc.returncode is not None:
                break
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills += 1
            heads.append(journal_head(db))
    finally:
        flapper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flapper
    if ref_hub.runner is None:
        await ref_hub.start()
    proc = await spawn(db, ref_hub, acklog)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]

    assert kills >= 5, f"only {kills} kills: heads {heads}"
    assert len(set(heads)) > 3 and heads[0] < TOTAL, f"kills did not land mid-burst: {heads}"
    site = sqlite3.connect(db)
    local = site.execute("SELECT seq, kind, body FROM journal ORDER BY seq").fetchall()
    assert [r[0] for r in local] == list(range(1, TOTAL + 1))
    hub = sqlite3.connect(ref_hub.db)
    remote = hub.execute(
        "SELECT seq, kind, body FROM events WHERE site = 'site-a' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in remote] == list(range(1, TOTAL + 1))  # once each, in order, no gap
    assert [(s, k, json.loads(b)) for s, k, b in remote] == [
        (s, k, json.loads(b)) for s, k, b in local
    ]
    acknowledged = [int(x) for x in acklog.read_text().split()]
    assert max(acknowledged) <= TOTAL  # every seq an appender saw committed is at the hub
    assert hub.execute("SELECT acked_seq, evicted FROM sites").fetchone() == (TOTAL, 0)
    failures = json.loads(
        site.execute("SELECT value FROM kv WHERE key = 'sync.failures'").fetchone()[0]
    )
    assert failures.get("transport", 0) > 0, failures  # the link really did flap under the client
