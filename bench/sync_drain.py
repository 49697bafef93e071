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
import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
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


class HealthProbe(threading.Thread):
    """GET /v1/health every 20 ms while the hub works; the latencies show loop stalls."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url + "/v1/health"
        self.times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            with urllib.request.urlopen(self.url, timeout=30) as resp:
                resp.read()
            self.times.append(time.perf_counter() - t0)
            self.stop.wait(0.02)

    def figures(self, prefix: str) -> dict[str, float]:
        self.stop.set()
        self.join(35)
        t = sorted(self.times) or [0.0]
        return {
            f"{prefix}_p50_ms": round(t[len(t) // 2] * 1000, 2),
            f"{prefix}_p99_ms": round(t[int(len(t) * 0.99)] * 1000, 2),
            f"{prefix}_max_ms": round(t[-1] * 1000, 2),
        }


def hostile(url: str, token: str, pid: int) -> dict[str, float]:
    """A 62 KiB gzip bomb (63 MiB of {}) and a 100k-event batch: status, the hub's RSS, and
    /v1/health latency meanwhile (issue 12 measured 1.6 GiB and a 3.9 s stall before)."""
    bomb = gzip.compress(b'{"events": [' + b"{}," * (21 * 2**20) + b"{}]}", 9)
    env = '{"seq":%d,"at":"2026-01-01T00:00:00+00:00","kind":"k","class":"telemetry",'
    env += '"source":"s","body":{},"schema_version":1}'
    big = gzip.compress(
        (
            '{"site":"bench","epoch":"00000000000000b1","from_seq":1,"to_seq":100000,"events":['
            + ",".join(env % i for i in range(1, 100_001))
            + "]}"
        ).encode()
    )
    out: dict[str, float] = {"bomb_kib": round(len(bomb) / 1024, 1)}
    rss_before = hub_peak_rss_mb(pid)
    probe = HealthProbe(url)
    probe.start()
    for name, body in (("bomb", bomb), ("batch_100k", big)):
        req = urllib.request.Request(
            f"{url}/v1/sites/bench/events",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
        )
        t0 = time.perf_counter()
        try:
            urllib.request.urlopen(req, timeout=60).read()
            out[f"{name}_status"] = 200
        except urllib.error.HTTPError as exc:
            out[f"{name}_status"] = exc.code
        out[f"{name}_answer_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out.update(probe.figures("health_under_attack"))
    out["hub_peak_rss_mb_before_attack"] = round(rss_before, 1)
    out["hub_peak_rss_mb_after_attack"] = round(hub_peak_rss_mb(pid), 1)
    return out


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
            probe = HealthProbe(url)
            probe.start()
            done = subprocess.run(
                [*me, "--role", "drain", "--db", site_db, "--url", url, "--token", token],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result.update(probe.figures("health_during_drain"))
            result["hub_peak_rss_mb"] = round(hub_peak_rss_mb(hub.pid), 1)
            result.update(hostile(url, token, hub.pid))
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
