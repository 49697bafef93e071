"""PIN decision benchmark: what keyed PIN digests (HMAC-SHA256, per-site key) cost a decision.

A store is filled with N PIN credentials digested under the site key (plus 1% legacy
unkeyed rows), then keypad PINs are decided through the access index and the rules exactly
as the daemon does (90% known, 10% unknown, which costs the most lookups). Reported: the
digest alone, and the whole decision, p50/p99 over many runs.

    python bench/pin_decision.py [--quick] [--json] [--runs N]

``--json`` prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run(count: int, decisions: int, seed: int) -> dict[str, float]:
    from datetime import UTC, datetime

    from edgectl.domain import CredentialPresented
    from edgectl.store import pinkeys
    from edgectl.store.credentials import AccessIndex
    from edgectl.store.db import open_store
    from rules.access import decide, pin_digest
    from tests.access_site import access_site

    with tempfile.TemporaryDirectory() as d:
        cfg = access_site(Path(d))
        conn = open_store(cfg.store.path)
        index = AccessIndex.load(conn, cfg)
        index.define_level("all", ["*"])
        key = index.pin_key()
        now = datetime.now(UTC).isoformat()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO people (id, name, role) VALUES (?, '', 'resident')",
            [(f"p{i}",) for i in range(count)],
        )
        conn.executemany(
            "INSERT INTO person_levels VALUES (?, 'all')", [(f"p{i}",) for i in range(count)]
        )
        conn.executemany(
            "INSERT INTO credentials (kind, format, secret, status, person_id, updated_at) "
            "VALUES ('pin', 'pin', ?, 'active', ?, ?)",
            [
                (pin_digest(f"{i:08d}", None if i % 100 == 0 else key), f"p{i}", now)
                for i in range(count)
            ],
        )
        conn.execute("COMMIT")
        index = AccessIndex.load(conn, cfg)
        assert pinkeys.read_keys(pinkeys.keyring_path(cfg.store.path)) == (key,)
        reader = next(r for r in cfg.readers if r.door == "door-lobby")
        rng = random.Random(seed)
        pins = [
            f"{rng.randrange(count):08d}" if rng.random() < 0.9 else f"9{rng.randrange(10**7):07d}"
            for _ in range(decisions)
        ]
        clock = time.perf_counter
        digest_times, decision_times, granted = [], [], 0
        at = datetime.now(UTC)
        for pin in pins:
            t0 = clock()
            pin_digest(pin, key)
            digest_times.append(clock() - t0)
            event = CredentialPresented(
                source=reader.id, at=at, format="pin", facility=None, number=0, pin=pin, bits=0
            )
            t0 = clock()
            decision = decide(index.state_for(event, reader), event, at)
            decision_times.append(clock() - t0)
            granted += decision.granted
        conn.close()
    digest_times.sort()
    decision_times.sort()
    n = len(pins)
    return {
        "digest_p50_us": digest_times[n // 2] * 1e6,
        "digest_p99_us": digest_times[int(n * 0.99)] * 1e6,
        "decision_p50_ms": decision_times[n // 2] * 1e3,
        "decision_p99_ms": decision_times[int(n * 0.99)] * 1e3,
        "granted_share": granted / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=0)
    args = ap.parse_args()
    count = 10_000 if args.quick else 100_000
    runs = args.runs or (3 if args.quick else 7)
    results = [run(count, 5_000, seed) for seed in range(runs)]
    out: dict[str, float | int] = {"credentials": count, "runs": runs}
    for key in results[0]:
        out[key] = round(statistics.median(r[key] for r in results), 4)
    out["decision_p99_ms_worst_run"] = round(max(r["decision_p99_ms"] for r in results), 4)
    if not args.json:
        for k, v in out.items():
            print(f"{k:28s} {v}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
