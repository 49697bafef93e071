"""Drain a journal backlog to the reference hub over loopback: events/s and peak RSS.

Three processes: one builds the backlog (``--backlog`` events straight into a site store),
the reference hub (``edgectl hub serve``), and the site's SyncClient draining it. The drain
process samples its RSS at every tenth of the backlog, so the figures show whether memory
grows with the backlog (it should not: the outbox is a cursor, batches are bounded).

usage: python bench/sync_drain.py [--quick] [--json] [--backlog N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(db: str, n: int) -> None:
    from edgectl.store.db import open_store

    conn = open_store(db)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    chunk = 50_000
    for lo in range(0, n, chunk):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO journal (at, kind, cls, source, body, schema_version) "
            "VALUES (?, ?, ?, ?, ?, 1)",
            (
                (
                    (t0 + timedelta(milliseconds=i)).isoformat(),
                    "access_decided",
                    "access",
                    "reader-1",
                    json.dumps(
                        {
                            "granted": i % 7 != 0,
                            "reason": "ok",
                            "credential": f"h10301:12:{i % 65536}",
                            "person_id": f"p{i % 900}",
                            "target": "gate-1",
                            "direction": "in",
                        }
                    ),
                )
                for i in range(lo, min(n, lo + chunk))
            ),
        )
        conn.execute("COMMIT")
    conn.close()


async def drain(db: str, url: str, token: str, n: int) -> dict[str, object]:
    from edgectl.config import parse
    from edgectl.store import kv
    from edgectl.store.db import connect
    from sync.client import SyncClient

    cfg = parse(
        f'[site]\nid = "bench"\n[store]\npath = "{db}"\n[hub]\nenabled = true\n'
        f'url = "{url}"\ntoken = "{token}"\nbatch_max_events = 5000\nbatch_max_bytes = 2000000\n'
    )
    conn = connect(db, readonly=True)
    samples: list[float] = [round(rss_mb(), 1)]
    task = asyncio.create_task(SyncClient(cfg, db).run())
    start = time.perf_counter()
    step = max(1, n // 10)
    while (acked := kv.acked_seq(conn)) < n:
        if acked >= step * len(samples):
            samples.append(round(rss_mb(), 1))
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    task.cancel()
    return {
        "backlog": n,
        "seconds": round(elapsed, 2),
        "events_per_s": round(n / elapsed),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_mb_by_tenth": samples,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--backlog", type=int, default=0)
    ap.add_argument("--role", choices=["build", "drain"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--token", help=argparse.SUPPRESS)
    args = ap.parse_args()
    n = args.backlog or (100_000 if args.quick else 1_000_000)
    if args.role == "build":
        build(args.db, n)
        return
    if args.role == "drain":
        print(json.dumps(asyncio.run(drain(args.db, args.url, args.token, n))))
        return

    from sync.hub.store import HubStore

    me = [sys.executable, str(Path(__file__).resolve()), "--backlog", str(n)]
    with tempfile.TemporaryDirectory() as d:
        site_db, hub_db = f"{d}/site.db", f"{d}/hub.db"
        t = time.perf_counter()
        subprocess.run([*me, "--role", "build", "--db", site_db], check=True)
        build_s = time.perf_counter() - t
        store = HubStore(hub_db)
        token = store.add_site("bench")
        store.close()
        port = free_port()
        hub = subprocess.Popen(
            [sys.executable, "-m", "edgectl", "hub", "serve", "--db", hub_db, "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            url = f"http://127.0.0.1:{port}"
            done = subprocess.run(
                [*me, "--role", "drain", "--db", site_db, "--url", url, "--token", token],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["hub_peak_rss_mb"] = round(hub_peak_rss_mb(hub.pid), 1)
        finally:
            hub.terminate()
            hub.wait(10)
        store = HubStore(hub_db)
        held = store.conn.execute("SELECT count(*), max(seq) FROM events").fetchone()
        store.close()
        if tuple(held) != (n, n):
            raise SystemExit(f"hub holds {held[0]} events up to seq {held[1]}, expected {n}")
        result["build_backlog_s"] = round(build_s, 1)
        result["site_db_mb"] = round(os.path.getsize(site_db) / 2**20, 1)
    if not args.json:
        for k, v in result.items():
            print(f"{k:20s} {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
