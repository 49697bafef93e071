"""Durable journal ingest: events/s with synchronous=FULL and NORMAL, single vs group commit.

``single``: each append is awaited before the next (one transaction, one fsync per event).
``group``: ``--window`` producers (think drivers) append concurrently, so events share commits.
Access events commit with synchronous=FULL (durable), telemetry with NORMAL. Each figure is
the median over ``--runs`` runs; group-commit latency (append -> committed) p50/p99 too.

usage: python bench/journal.py [--quick] [--json] [--runs N] [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgectl.domain import AccessDecided, Event, VehicleDetected
from edgectl.store.journal import Journal


def event(durable: bool, i: int) -> Event:
    now = datetime.now(UTC)
    if durable:
        return AccessDecided(
            source="reader-1", at=now, granted=True, reason="ok", credential=f"h10301:12:{i}"
        )
    return VehicleDetected(source="loop-1", at=now, present=bool(i & 1))


async def run_once(durable: bool, group: bool, n: int, window: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as d:
        journal = Journal(Path(d) / "bench.db")
        latencies: list[float] = []
        start = time.perf_counter()
        if group:

            async def producer(k: int) -> None:
                for i in range(k, n, window):
                    t = time.perf_counter()
                    await journal.append(event(durable, i))
                    latencies.append(time.perf_counter() - t)

            await asyncio.gather(*(producer(k) for k in range(window)))
        else:
            for i in range(n):
                await journal.append(event(durable, i))
        elapsed = time.perf_counter() - start
        await journal.close()
    return n / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--events", type=int, default=0)
    ap.add_argument("--window", type=int, default=500)
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    n_group = args.events or (20_000 if args.quick else 100_000)
    n_single = max(200, n_group // 50)
    out: dict[str, float | int] = {"runs": runs, "group_events": n_group, "single_events": n_single}
    for durable, sync_name in ((True, "full"), (False, "normal")):
        for group in (False, True):
            rates, lats = [], []
            for _ in range(runs):
                rate, lat = await run_once(
                    durable, group, n_group if group else n_single, args.window
                )
                rates.append(rate)
                lats.extend(lat)
            key = f"{sync_name}_{'group' if group else 'single'}"
            out[f"{key}_events_per_s"] = round(statistics.median(rates))
            out[f"{key}_events_per_s_min"] = round(min(rates))
            if group:
                out[f"{key}_latency_p50_ms"] = round(pct(lats, 0.5) * 1000, 2)
                out[f"{key}_latency_p99_ms"] = round(pct(lats, 0.99) * 1000, 2)
            if not args.json:
                print(
                    f"{key:14s} median {out[f'{key}_events_per_s']:>8} ev/s  (min {min(rates):.0f})"
                )
    out["durable_events_per_s"] = out["full_group_events_per_s"]
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
