"""The installer's first hour, timed: README "Your first hour" run end to end (reference
hub, simulated devices, init, doctor, daemon, levels add, people add, cards enroll at the
simulated reader, the gate opens, events tail, the event at the hub).

Runs the checkout's ``edgectl`` (tests/test_wheel.py runs the same flow from the wheel).
Reports the whole flow's wall time and, per command, the median time a CLI call took (most
of the flow is CLI start-up on a busy box).

usage: python bench/first_hour.py [--quick] [--json] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from tests.first_hour import first_hour
    from tests.sim_procs import Edgectl

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one run")
    ap.add_argument("--json", action="store_true", help="figures as JSON on the last line")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runs = 1 if args.quick else args.runs
    totals: list[float] = []
    calls: list[float] = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="first-hour-") as tmp:
            flow = first_hour(Edgectl(), Path(tmp), deadline_s=120)
        totals.append(flow.seconds)
        calls += [s for _, _, s in flow.transcript if s > 0]
        if not args.json:
            print(f"run {i + 1}: {flow.seconds:.1f} s, doctor failures {flow.doctor_failures}")
    result = {
        "runs": runs,
        "flow_s_median": round(statistics.median(totals), 1),
        "flow_s_max": round(max(totals), 1),
        "cli_call_s_median": round(statistics.median(calls), 2),
        "cli_calls_per_flow": len(calls) // runs,
        "loadavg_1m": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
