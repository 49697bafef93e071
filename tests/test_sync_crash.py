"""SIGKILL the writer at random points of a 10,000-event burst while the hub link flaps (the
hub stopping cleanly, or a hub process itself SIGKILLed): the hub ends up with every
committed event exactly once, in order, with no gap.

Each kill lands once the journal head has moved a random number of events past where the
run started (observed, not timed), so a slow machine kills mid-burst just as a fast one."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from sync.hub.store import HubStore
from tests.conftest import RefHub, free_port
from tests.tasks import background

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 10_000


class Hub(Protocol):
    db: Path
    token: str

    @property
    def url(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class HubProcess:
    """``edgectl hub serve`` as its own process; ``stop()`` kills it with SIGKILL."""

    db: Path
    port: int
    token: str
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edgectl",
            "hub",
            "serve",
            "--db",
            str(self.db),
            "--port",
            str(self.port),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(60):  # a busy CI machine starts Python slowly
            while True:
                assert self.proc.returncode is None, f"hub exited with {self.proc.returncode}"
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    return
                except OSError:
                    await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        self.proc = None


async def flap(hub: Hub, rnd: random.Random) -> None:
    """Take the hub down and up again, at random, until cancelled."""
    while True:
        await asyncio.sleep(rnd.uniform(0.2, 0.8))
        await hub.stop()
        await asyncio.sleep(rnd.uniform(0.05, 0.4))
        await hub.start()


async def spawn(db: Path, hub: Hub, acklog: Path) -> asyncio.subprocess.Process:
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


async def head_passes(db: Path, target: int, proc: asyncio.subprocess.Process) -> None:
    """Wait until the writer has committed past seq ``target`` (or has finished)."""
    async with asyncio.timeout(120):
        while journal_head(db) < target and proc.returncode is None:
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("hub_kind", ["stopping", "sigkilled"])
async def test_sigkill_during_burst_with_flapping_hub(
    tmp_path: Path, ref_hub: RefHub, hub_kind: str
) -> None:
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "5")))
    db, acklog = tmp_path / "edge.db", tmp_path / "acked.log"
    hub: Hub = ref_hub
    if hub_kind == "sigkilled":
        await ref_hub.stop()
        store = HubStore(tmp_path / "hub2.db")
        hub = HubProcess(tmp_path / "hub2.db", free_port(), store.add_site("site-a"))
        store.close()
        await hub.start()
    kills, heads = 0, []
    async with background(flap(hub, rnd)):
        while kills < 8:
            target = journal_head(db) + rnd.randint(300, 1100)
            proc = await spawn(db, hub, acklog)
            await head_passes(db, target, proc)
            if proc.returncode is not None:
                break
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills += 1
            heads.append(journal_head(db))
    await hub.stop()
    await hub.start()
    proc = await spawn(db, hub, acklog)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if hub_kind == "sigkilled":
            await hub.stop()
    assert proc.returncode == 0, err.decode()[-2000:]

    assert kills >= 5, f"only {kills} kills: heads {heads}"
    assert len(set(heads)) > 3 and heads[0] < TOTAL, f"kills did not land mid-burst: {heads}"
    site = sqlite3.connect(db)
    local = site.execute("SELECT seq, kind, body FROM journal ORDER BY seq").fetchall()
    assert [r[0] for r in local] == list(range(1, TOTAL + 1))
    held = sqlite3.connect(hub.db)
    remote = held.execute(
        "SELECT seq, kind, body FROM events WHERE site = 'site-a' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in remote] == list(range(1, TOTAL + 1))  # once each, in order, no gap
    assert [(s, k, json.loads(b)) for s, k, b in remote] == [
        (s, k, json.loads(b)) for s, k, b in local
    ]
    acknowledged = {int(x) for x in acklog.read_text().split()}
    assert acknowledged <= {r[0] for r in remote}  # what an appender saw committed is at the hub
    assert held.execute("SELECT acked_seq, evicted FROM sites").fetchone() == (TOTAL, 0)
    failures = json.loads(
        site.execute("SELECT value FROM kv WHERE key = 'sync.failures'").fetchone()[0]
    )
    assert failures.get("transport", 0) > 0, failures  # the link really did flap under the client
