"""Hostile-input and storage-check costs: the reader line splitter and the start-time check.

- **splitter**: MB/s through ``LineSplitter.feed`` for a clean stream of valid frames, for
  1 MB of garbage without a line break (the old driver restarted on it), and for a mix of
  garbage, NUL runs, partial and overlong lines with valid frames; and the time per valid
  frame (split, parse, decode), which is on the card-to-gate path.
- **quick_check**: ``PRAGMA quick_check`` on a store holding N journal events (what the
  daemon now runs before it starts, and ``doctor`` runs).

    python bench/hostile_input.py [--quick] [--json] [--runs N]

``--quick`` uses smaller inputs and one store size. ``--json`` prints one JSON object of
figures (medians over runs, p99 of per-frame times) as the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drivers.wiegand import codec  # noqa: E402
from drivers.wiegand.line import LineSplitter, WiegandFrame, encode_frame, parse_line  # noqa: E402

H10301 = codec.builtin_formats()["h10301"]


def frames(n: int, rnd: random.Random) -> list[bytes]:
    return [
        encode_frame(codec.encode(H10301, rnd.randrange(256), rnd.randrange(65536)), 26)
        for _ in range(n)
    ]


def mixed(n: int, rnd: random.Random) -> bytes:
    out = []
    for line in frames(n, rnd):
        pick = rnd.random()
        if pick < 0.2:
            out.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(80))))
        elif pick < 0.3:
            out.append(b"\0" * rnd.randrange(1, 200))
        elif pick < 0.4:
            out.append(line[: rnd.randrange(1, 14)])
        elif pick < 0.45:
            out.append(b"W26:" + b"A" * rnd.randrange(65, 5000))
        out.append(b"\n" + line)
    return b"".join(out)


def throughput(data: bytes, chunk: int = 4096) -> float:
    lines = LineSplitter()
    started = time.perf_counter()
    for i in range(0, len(data), chunk):
        lines.feed(data[i : i + chunk])
    return len(data) / (time.perf_counter() - started) / 1e6


def per_frame_us(lines_in: list[bytes]) -> list[float]:
    splitter = LineSplitter()
    formats = codec.select(("h10301",))
    out = []
    for line in lines_in:
        started = time.perf_counter()
        for chunk in splitter.feed(line):
            msg = parse_line(chunk)  # type: ignore[arg-type]
            assert isinstance(msg, WiegandFrame)
            codec.decode(msg.value, msg.bits, formats)
        out.append((time.perf_counter() - started) * 1e6)
    return out


def quick_check_s(events: int) -> tuple[float, float]:
    from edgectl.store.db import open_store
    from edgectl.store.recover import quick_check

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "e.db"
        with closing(open_store(db)) as conn:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO journal (at, kind, cls, source, body, schema_version) "
                "VALUES ('2026-01-01T00:00:00+00:00', 'access_decided', 'access', 'r1', ?, 1)",
                (
                    (json.dumps({"granted": True, "n": i, "credential": f"h10301:1:{i}"}),)
                    for i in range(events)
                ),
            )
            conn.execute("COMMIT")
        size_mb = db.stat().st_size / 1e6
        with closing(sqlite3.connect(db)) as conn:
            started = time.perf_counter()
            assert quick_check(conn) == []
            return time.perf_counter() - started, size_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rnd = random.Random(10)
    n = 5_000 if args.quick else 50_000
    clean = b"".join(frames(n, rnd))
    garbage = (
        bytes(rnd.randrange(32, 127) for _ in range(1 << 20))
        .replace(b"\n", b"x")
        .replace(b"\r", b"x")
    )
    mix = mixed(n, rnd)
    runs = 2 if args.quick else args.runs
    figures: dict[str, float] = {}
    for name, data in (("clean", clean), ("garbage_1mb", garbage), ("mixed", mix)):
        figures[f"{name}_mb_s"] = round(statistics.median(throughput(data) for _ in range(runs)), 2)
    times = sorted(per_frame_us(frames(n, rnd)))
    figures["frame_us_p50"] = round(times[len(times) // 2], 2)
    figures["frame_us_p99"] = round(times[int(len(times) * 0.99)], 2)
    sizes = (100_000,) if args.quick else (100_000, 1_000_000)
    for events in sizes:
        results = [quick_check_s(events) for _ in range(1 if args.quick else 3)]
        figures[f"quick_check_s_{events}"] = round(statistics.median(r[0] for r in results), 3)
        figures[f"store_mb_{events}"] = round(results[0][1], 1)
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
