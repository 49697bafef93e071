"""A stand-in for the daemon, for the crash test: append a burst of events to the journal while
the sync client forwards them to the hub. ``test_sync_crash`` kills it with SIGKILL.

usage: python tests/sync_burst.py DB HUB_URL TOKEN TOTAL ACKLOG
Writes each seq acknowledged to the appender (its future resolved) to ACKLOG, and exits 0
once TOTAL events are committed and the hub has acknowledged all of them.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgectl.config import parse
from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal, head_seq
from sync.client import SyncClient
from tests.sync_support import make_event


async def main(db: str, url: str, token: str, total: int, acklog: str) -> None:
    cfg = parse(
        f'[site]\nid = "site-a"\n[store]\npath = "{db}"\n'
        f'[hub]\nenabled = true\nurl = "{url}"\ntoken = "{token}"\ninterval_s = 0.2\n'
        "backoff_base_s = 0.05\nbackoff_max_s = 0.3\ntimeout_s = 2.0\nbatch_max_events = 700\n"
    )
    journal = Journal(db)
    client = asyncio.create_task(SyncClient(cfg, db, journal=journal).run())
    conn = connect(db)
    head = head_seq(conn)
    with open(acklog, "a") as log:  # noqa: ASYNC230 - a tiny append-only test log
        while head < total:
            n = min(random.randint(1, 120), total - head)
            entries = await asyncio.gather(
                *(journal.append(make_event(head + i)) for i in range(n))
            )
            head = entries[-1].seq
            log.write(f"{head}\n")
            log.flush()
            await asyncio.sleep(0.03)
    while kv.acked_seq(conn) < head:
        await asyncio.sleep(0.05)
    client.cancel()
    await journal.close()


if __name__ == "__main__":
    db, url, token, total, acklog = sys.argv[1:6]
    asyncio.run(main(db, url, token, int(total), acklog))
