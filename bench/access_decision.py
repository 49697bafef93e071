"""Access decision benchmark: latency at 1k / 100k / 1M credentials, import, cold start, RSS.

For each scale a fresh store is filled through the CSV import (timed), then a fresh
process, like the daemon, opens it (cold start: from process spawn to the first decision),
runs decisions for random cards (90% known, 10% unknown) and reports its latency
percentiles (lookup plus rules) and its peak RSS. The whole daemon (`edgectl run`, drivers,
journal, control socket) is also started on the store, timed from spawn to its sd_notify
READY=1, with its peak RSS.

    python bench/access_decision.py [--quick] [--json] [--runs N]

``--quick`` skips the 1M scale. ``--json`` prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DECISIONS = 20_000
SCALES = {"1k": 1_000, "100k": 100_000, "1m": 1_000_000}


def site(directory: Path):  # type: ignore[no-untyped-def]
    from tests.access_site import access_site

    return access_site(directory)


def build(directory: Path, count: int) -> tuple[float, int]:
    """Fill a store with ``count`` cards through the CSV import; (seconds, rows)."""
    from edgectl.site.actor import SYSTEM
    from edgectl.site.service import SiteService
    from tests.access_site import write_cards_csv

    cfg = site(directory)
    service = SiteService.open(cfg)
    service.define_level("all", ["*"], actor=SYSTEM)
    path = write_cards_csv(directory / "cards.csv", count, level="all", fmt="c1000")
    started = time.perf_counter()
    result = service.import_cards(path, actor=SYSTEM)
    elapsed = time.perf_counter() - started
    assert not result.errors and result.imported == count, result.errors[:5]
    service.close()
    path.unlink()
    return elapsed, count


def worker(directory: Path, count: int, decisions: int) -> None:
    """The daemon's side: open the store, decide, report. Prints 'ready' after the first."""
    from datetime import UTC, datetime

    from edgectl.config import load
    from edgectl.domain import CredentialPresented
    from edgectl.store.access_index import AccessIndex
    from edgectl.store.db import open_store
    from rules.access import decide

    cfg = load(directory / "config.toml")
    index = AccessIndex.load(open_store(cfg.store.path), cfg)
    reader = next(r for r in cfg.readers if r.door == "door-lobby")
    now = datetime.now(UTC)

    def one(number: int) -> bool:
        event = CredentialPresented(
            source=reader.id, at=now, format="c1000", facility=10, number=number, bits=35
        )
        decision = decide(index.state_for(event, reader), event, now)
        index.apply(decision)
        return decision.granted

    assert one(count)
    print("ready", flush=True)
    rng = random.Random(count)
    numbers = [
        rng.randrange(1, count + 1) if rng.random() < 0.9 else count + rng.randrange(1, 10**6)
        for _ in range(decisions)
    ]
    times = []
    clock = time.perf_counter
    for number in numbers:
        started = clock()
        one(number)
        times.append(clock() - started)
    times.sort()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "p50_ms": times[len(times) // 2] * 1000,
                "p99_ms": times[int(len(times) * 0.99)] * 1000,
                "rss_mb": rss_mb,
            }
        ),
        flush=True,
    )


def measure(directory: Path, count: int, decisions: int) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(directory), str(count), str(decisions)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    cold = time.perf_counter() - started
    figures = json.loads(proc.stdout.readline())
    proc.wait(60)
    return {"cold_start_s": cold, **figures}


def daemon_cold_start(directory: Path) -> tuple[float, float]:
    """Spawn the whole daemon (`edgectl run`) on the store; (seconds to READY=1, its RSS MB)."""
    notify = directory / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        sock.settimeout(30)
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgectl", "run", "--config", str(directory / "config.toml")],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "NOTIFY_SOCKET": str(notify)},
            stderr=subprocess.DEVNULL,
        )
        try:
            while not sock.recv(4096).startswith(b"READY=1"):
                pass
            ready = time.perf_counter() - started
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss_kb = int(
                next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]
            )
        finally:
            proc.terminate()
            proc.wait(10)
        notify.unlink()
    return ready, rss_kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 1M scale")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    ap.add_argument("--runs", type=int, default=5, help="latency runs per scale")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), int(args.worker[1]), int(args.worker[2]))
        return
    scales = {k: v for k, v in SCALES.items() if not (args.quick and k == "1m")}
    out: dict[str, float | None] = {}
    peak_rss = 0.0
    for name, count in scales.items():
        with tempfile.TemporaryDirectory(prefix=f"bench-access-{name}-") as tmp:
            directory = Path(tmp)
            import_s, rows = build(directory, count)
            runs = [measure(directory, count, DECISIONS) for _ in range(args.runs)]
            daemon_runs = [daemon_cold_start(directory) for _ in range(3)]
        daemon_cold = statistics.median(r[0] for r in daemon_runs)
        daemon_rss = max(r[1] for r in daemon_runs)
        peak_rss = max(peak_rss, daemon_rss)
        p50 = statistics.median(r["p50_ms"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        cold = statistics.median(r["cold_start_s"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        peak_rss = max(peak_rss, rss)
        out |= {
            f"p50_ms_{name}": round(p50, 4),
            f"p99_ms_{name}": round(p99, 4),
            f"p99_ms_{name}_worst_run": round(max(r["p99_ms"] for r in runs), 4),
            f"import_s_{name}": round(import_s, 2),
            f"import_rows_per_s_{name}": round(rows / import_s),
            f"cold_start_s_{name}": round(cold, 3),
            f"rss_mb_{name}": round(rss, 1),
            f"daemon_cold_start_s_{name}": round(daemon_cold, 3),
            f"daemon_rss_mb_{name}": round(daemon_rss, 1),
        }
        print(
            f"{name:>5}: decision p50 {p50 * 1000:.0f} us, p99 {p99 * 1000:.0f} us "
            f"(median of {args.runs} runs x {DECISIONS}); import {import_s:.2f} s "
            f"({rows / import_s:,.0f} rows/s); cold start {cold:.3f} s; RSS {rss:.1f} MB; "
            f"whole daemon to READY {daemon_cold:.3f} s, RSS {daemon_rss:.1f} MB",
            flush=True,
        )
    for key in ("p99_ms_1m", "import_s_1m", "cold_start_s_1m"):
        out.setdefault(key, None)
    out["peak_rss_mb"] = round(peak_rss, 1)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
