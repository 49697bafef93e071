"""Deadlines at scale: 10,000 open work orders and 200 active patrol tours on one site.

- ``deadline_lag``: how late each deadline event (``workorder_overdue``, ``checkpoint_missed``)
  fires after its deadline, on the real clock, with the real store and journal. The orders'
  accept deadlines and the tours' checkpoint deadlines are spread over ``--span`` seconds.
- ``idle_cpu_share``: process CPU time over wall time while every order and tour is open
  and the next deadline is far off (share of one core; no polling means near 0).
- ``restart_rebuild_s``: a fresh ``Operations.load()`` over the same store (what the daemon
  does at start): every open order and tour rebuilt from stored times, deadlines armed.

usage: python bench/deadlines.py [--quick] [--json] [--orders N] [--tours N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgectl import tomlw
from edgectl.config import Config, load
from edgectl.domain import CheckpointMissed, Event, WorkOrderOverdue
from edgectl.operations import Operations, journal_record
from edgectl.store.db import open_store
from edgectl.store.journal import Journal
from edgectl.workorders.store import stamp

ACCEPT_S = 60.0
LATEST_S = 30.0
LATE_S = 10.0
ESCALATE_S = 3600.0  # the supervisor step: far beyond the run


def write_config(directory: Path, checkpoints: int) -> Config:
    data: dict[str, Any] = {
        "site": {"id": "bench", "timezone": "Asia/Shanghai"},
        "store": {"path": str(directory / "edgectl.db")},
        "daemon": {"control_socket": str(directory / "control.sock")},
        "roster": [{"staff": "b-1", "role": "butler"}, {"staff": "g-1", "role": "guard"}],
        "workorders": {
            "supervisor": "sup",
            "priorities": [
                {
                    "name": "service",
                    "accept_s": ACCEPT_S,
                    "on_site_s": 7200.0,
                    "diagnose_s": 7200.0,
                    "finish_s": 86400.0,
                    "follow_up_s": 86400.0,
                },
            ],
            "fault_priority": "service",
            "escalation": [
                {"after_s": 0.0, "to": "assignee"},
                {"after_s": ESCALATE_S, "to": "supervisor"},
            ],
        },
        "patrol": {
            "routes": [
                {
                    "id": "r",
                    "ordered": False,
                    "max_duration_s": 7200.0,
                    "max_silence_s": 7000.0,
                    "late_s": LATE_S,
                    "start": ["operator"],
                    "checkpoints": [
                        {"id": f"cp-{i}", "latest_s": 6000.0 + i if i else LATEST_S}
                        for i in range(checkpoints)
                    ],
                }
            ]
        },
    }
    path = directory / "config.toml"
    path.write_text(tomlw.dumps(data))
    return load(path)


def fill(config: Config, orders: int, tours: int, now: datetime, span: float) -> None:
    """Open orders whose accept deadlines, and tours whose first checkpoint's miss, fall in
    ``[now, now + span]``."""
    conn = open_store(config.store.path)
    rnd = random.Random(1)
    conn.execute("BEGIN")
    for i in range(orders):
        due = now + timedelta(seconds=rnd.uniform(0, span))
        created = due - timedelta(seconds=ACCEPT_S)
        conn.execute(
            "INSERT INTO work_orders (id, kind, priority, title, status, created_at, respond_by, "
            "complete_by, updated_at, source, assignee) VALUES (?, 'request', 'service', 't', "
            "'new', ?, ?, ?, ?, 'desk', 'b-1')",
            (f"wo-{i}", stamp(created), stamp(due), stamp(due), stamp(created)),
        )
        conn.execute(
            "INSERT INTO work_order_updates (order_id, status, at, by, channel, pushed_at) "
            "VALUES (?, 'new', ?, 'bench', 'cli', ?)",
            (f"wo-{i}", stamp(created), stamp(created)),
        )
    for i in range(tours):
        due = now + timedelta(seconds=rnd.uniform(0, span))
        started = due - timedelta(seconds=LATEST_S + LATE_S)
        conn.execute(
            "INSERT INTO patrol_tours (id, route, guard, started_at, started_by, status, "
            "last_seen) VALUES (?, 'r', 'g-1', ?, 'bench', 'active', ?)",
            (f"tour-{i}", stamp(started), stamp(started)),
        )
    conn.execute("COMMIT")
    conn.close()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        config = write_config(Path(d), args.checkpoints)
        first_due = datetime.now(UTC) + timedelta(seconds=args.lead)
        fill(config, args.orders, args.tours, first_due, args.span)
        journal = Journal(config.store.path)
        lags: list[float] = []
        missed = [0]
        record = journal_record(journal)

        def timed(event: Event) -> Any:
            if isinstance(event, WorkOrderOverdue):
                lags.append((datetime.now(UTC) - event.deadline).total_seconds())
            elif isinstance(event, CheckpointMissed):
                missed[0] += 1
            return record(event)

        rebuilds = []
        for _ in range(args.runs):  # restarts: a fresh engine over the same store each time
            ops = Operations(config, timed, lambda: datetime.now(UTC))
            ops.load()
            rebuilds.append(ops.rebuild_s)
            await ops.close()
        ops = Operations(config, timed, lambda: datetime.now(UTC))
        ops.load()
        task = asyncio.create_task(ops.run(asyncio.Queue()))
        # idle: everything open, the first deadline still ahead
        idle_s = min(args.idle, (first_due - datetime.now(UTC)).total_seconds() - 1.0)
        if idle_s < 1.0:
            raise SystemExit(f"--lead {args.lead} s is too short for the rebuild runs")
        await asyncio.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(idle_s - 0.5)
        idle_cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        assert not lags, "a deadline fired early"
        limit = time.monotonic() + args.lead + args.span + 30
        while (len(lags) < args.orders or missed[0] < args.tours) and time.monotonic() < limit:
            await asyncio.sleep(0.2)
        await ops.writer.flush()
        # a tour's miss is stored with the instant it was noticed: compare with the true one
        missed_lags = []
        conn = open_store(config.store.path)
        for started, at in conn.execute(
            "SELECT t.started_at, c.at FROM patrol_checkpoints c JOIN patrol_tours t "
            "ON t.id = c.tour_id WHERE c.checkpoint = 'cp-0' AND c.result = 'missed'"
        ):
            due = datetime.fromisoformat(started) + timedelta(seconds=LATEST_S + LATE_S)
            missed_lags.append((datetime.fromisoformat(at) - due).total_seconds())
        conn.close()
        open_after = len(ops.workorders.orders)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ops.close()
        await journal.close()
    all_lags = lags + missed_lags
    return {
        "overdue_events": len(lags),
        "missed_events": len(missed_lags),
        "orders": args.orders,
        "tours": args.tours,
        "deadline_lag_p50_s": round(pct(all_lags, 0.5), 4),
        "deadline_lag_p99_s": round(pct(all_lags, 0.99), 4),
        "deadline_lag_max_s": round(max(all_lags, default=0.0), 4),
        "idle_cpu_share": round(idle_cpu, 5),
        "idle_s": round(idle_s, 1),
        "open_orders_while_idle": open_after,
        "restart_rebuild_s": round(statistics.median(rebuilds), 4),
        "restart_rebuild_max_s": round(max(rebuilds), 4),
        "rebuild_runs": len(rebuilds),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--tours", type=int, default=200)
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--span", type=float, default=0.0)
    ap.add_argument("--idle", type=float, default=0.0)
    ap.add_argument("--lead", type=float, default=0.0)
    args = ap.parse_args()
    args.runs = args.runs or (3 if args.quick else 7)
    args.span = args.span or (10.0 if args.quick else 30.0)
    args.idle = args.idle or (5.0 if args.quick else 20.0)
    args.lead = args.lead or (20.0 if args.quick else 60.0)
    out = asyncio.run(measure(args))
    if not args.json:
        for key, value in out.items():
            print(f"{key:26s} {value}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
