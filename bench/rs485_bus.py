"""RS-485 bus benchmark: 16 simulated gates on one real-time simulated line.

For 9,600 and 19,200 baud (8N1, 5 ms device turnaround, CAME ZLB30 profile, 8-register
polls):

* **efficiency**: transactions per second with every gate polled back to back (total
  over the run), divided by the theoretical maximum for the same frames:
  1 / (request + turnaround + reply + inter-frame gap), each frame at 10 bits per byte.
  Also the driver process's CPU share while the bus is saturated.
* **gate-open latency under full polling load**: from ``execute(OpenGate)`` being called
  to the last byte of its write-coil frame leaving the simulated line (the line's own
  log), at p50 and p99, against the bound: one in-flight poll transaction plus the
  command's own frame.
* **dead-unit share** (9,600 baud): one of the 16 never answers; the share of bus time
  spent on it (transactions to it, timeouts included) over the run, from the moment it
  first fails; and the throughput the 15 live gates lose compared with all 16 alive.

The line (``drivers/sim/serial_link.py``) and the gates (``drivers/sim/gate.py``) run in
a child process; the driver runs here, as the daemon would.

    python bench/rs485_bus.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prometheus_client import REGISTRY  # noqa: E402

from drivers.modbus import build  # noqa: E402
from drivers.modbus.timing import LineTiming  # noqa: E402
from edgectl.config import Bus, Gate  # noqa: E402
from edgectl.domain import OpenGate  # noqa: E402

UNITS = range(1, 17)
TURNAROUND_S = 0.005
POLL = (8, 5 + 2 * 8)  # request, reply bytes: read 8 holding registers
COMMAND = (8, 8)  # write single coil and its echo


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def counter(name: str, bus: str, unit: int, **labels: str) -> float:
    got = REGISTRY.get_sample_value(name, {"bus": bus, "unit": str(unit), **labels})
    return got or 0.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ok_total(bus: str) -> float:
    return sum(counter("edgectl_modbus_transactions_total", bus, u, outcome="ok") for u in UNITS)


class Line:
    """The simulated line and gates in a child process (``--serve``), and its burst log."""

    def __init__(self, directory: Path, baud: int, dead: int | None) -> None:
        self.log = directory / f"bursts-{baud}.jsonl"
        args = [sys.executable, __file__, "--serve", str(directory), str(baud), str(dead or 0)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.host = self.proc.stdout.readline().strip()  # the child prints the host end when ready

    def stop(self) -> list[tuple[float, str, bytes]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        rows = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [(r["end"], r["side"], bytes.fromhex(r["data"])) for r in rows]


async def serve(directory: Path, baud: int, dead: int) -> None:
    from drivers.sim.gate import start_sim_gates
    from drivers.sim.serial_link import SerialLink

    link = SerialLink(baud, TURNAROUND_S, directory=directory, name=f"b{baud}", record=True)
    await link.start()
    sim = await start_sim_gates(link.device, {u: "came_zlb30" for u in UNITS}, baud=baud)
    if dead:
        sim.gates[dead].inject("silence")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(link.host, flush=True)
    await stop.wait()
    await sim.stop()
    link.close()
    with (directory / f"bursts-{baud}.jsonl").open("w") as out:
        for b in link.bursts:
            out.write(json.dumps({"end": b.end, "side": b.side, "data": b.data.hex()}) + "\n")


async def run_bus(
    directory: Path, baud: int, seconds: float, commands: int, dead: int | None = None
) -> dict[str, float]:
    line = Line(directory, baud, dead)
    bus = Bus(
        id=f"bench{baud}{'dead' if dead else ''}",
        port=line.host,
        baud=baud,
        turnaround_ms=TURNAROUND_S * 1000,
    )
    gates = [
        Gate(id=f"g{u}", bus=bus.id, unit=u, profile="came_zlb30", poll_interval_s=0.0)
        for u in UNITS
    ]
    driver = build(bus, gates)
    task = asyncio.create_task(driver.run(lambda _e: None))
    await asyncio.sleep(1.0)  # open the port, first round of polls, breaker verdicts
    issued: list[tuple[float, int]] = []
    dead_busy0 = counter("edgectl_modbus_bus_seconds_total", bus.id, dead) if dead else 0.0
    n0, t0, cpu0 = ok_total(bus.id), time.monotonic(), cpu_seconds()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - t0
    tps = (ok_total(bus.id) - n0) / elapsed
    cpu = (cpu_seconds() - cpu0) / elapsed
    dead_busy = (
        counter("edgectl_modbus_bus_seconds_total", bus.id, dead) - dead_busy0 if dead else 0
    )
    rng = random.Random(baud)
    for _ in range(commands):
        await asyncio.sleep(rng.uniform(0.05, 0.15))
        unit = rng.choice(UNITS)
        t = time.monotonic()
        await driver.execute(OpenGate(target=f"g{unit}"))
        issued.append((t, unit))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    bursts = line.stop()
    latencies = []
    for t, unit in issued:
        end = next(
            e for e, side, d in bursts if side == "host" and e >= t and d[:2] == bytes([unit, 5])
        )
        latencies.append((end - t) * 1000)
    timing = LineTiming(baud, turnaround_s=TURNAROUND_S)
    ideal = 1 / timing.transaction_s(*POLL)
    result = {
        "tps": tps,
        "ideal_tps": ideal,
        "efficiency": tps / ideal,
        "driver_cpu": cpu,
        "open_bound_ms": (timing.transaction_s(*POLL) + timing.frame_s(COMMAND[0])) * 1000,
    }
    if latencies:
        result |= {
            "open_p50_ms": percentile(latencies, 0.5),
            "open_p99_ms": percentile(latencies, 0.99),
            "open_max_ms": max(latencies),
            "open_n": len(latencies),
        }
    if dead:
        result |= {"dead_unit_share": dead_busy / elapsed}
    return result


async def main(quick: bool) -> dict[str, float]:
    seconds, commands = (4, 60) if quick else (20, 400)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for baud in (9600, 19200):
            r = await run_bus(directory, baud, seconds, commands)
            for key, value in r.items():
                figures[f"{key}_{baud}"] = round(value, 4)
        r = await run_bus(directory, 9600, seconds * 2, 0, dead=16)
        figures["dead_unit_share"] = round(r["dead_unit_share"], 4)
        figures["dead_live_tps_9600"] = round(r["tps"], 3)
        figures["dead_throughput_loss"] = round(1 - r["tps"] / figures["tps_9600"], 4)
    return figures


def report(figures: dict[str, float]) -> None:
    for baud in (9600, 19200):
        print(
            f"{baud:>6} baud: {figures[f'tps_{baud}']:.2f} tx/s of {figures[f'ideal_tps_{baud}']:.2f} "
            f"theoretical -> efficiency {figures[f'efficiency_{baud}']:.3f} "
            f"(driver CPU {100 * figures[f'driver_cpu_{baud}']:.1f} % of a core)"
        )
        print(
            f"{'':>12}open latency p50 {figures[f'open_p50_ms_{baud}']:.1f} ms, "
            f"p99 {figures[f'open_p99_ms_{baud}']:.1f} ms, max {figures[f'open_max_ms_{baud}']:.1f} ms "
            f"(bound {figures[f'open_bound_ms_{baud}']:.1f} ms, n={figures[f'open_n_{baud}']:.0f})"
        )
    print(
        f"dead unit (1 of 16, 9600 baud): {100 * figures['dead_unit_share']:.2f} % of bus time, "
        f"throughput loss {100 * figures['dead_throughput_loss']:.2f} %"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(Path(args.serve[0]), int(args.serve[1]), int(args.serve[2])))
        sys.exit(0)
    print(
        f"machine: {os.cpu_count()} CPUs; {'quick' if args.quick else 'full'} run", file=sys.stderr
    )
    result = asyncio.run(main(args.quick))
    report(result)
    if args.json:
        print(json.dumps(result))
