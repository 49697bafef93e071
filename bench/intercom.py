"""Intercom figures on loopback: call to operator, remote open round trip, and 50 intercoms
streaming at once.

Call: a simulated button press to the ``intercom_call`` (ringing) message at an MQTT
subscriber, through the driver's event stream, the call rule, the journal commit and the
MQTT interface; for each vendor's simulated device. Open: an operator's ``intercom/open``
request (MQTT 5) to its ``ok`` reply, which the daemon sends only after the simulated 2N
confirmed the switch (its relay is checked). Scale: 50 simulated intercoms (2N, Hikvision
and Dahua in turn) in a child process, each presenting a card every ``--interval`` s to a
daemon whose 50 drivers decide and journal them; the daemon's CPU share (its process CPU
time over wall time, per core of the machine) and cards not decided are reported.

    python bench/intercom.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mqtt_roundtrip import free_port, start_broker
from edgectl import tomlw
from edgectl.config import load
from edgectl.daemon import Daemon
from edgectl.mqtt.connection import NO_DELAY
from edgectl.simulation import SIM_INTERCOMS, simulated_compound

BASE = "edgectl/bench"
IC, DOOR = "ped-intercom", "ped-door"  # in config.example.toml
VENDORS = ("2n", "hikvision", "dahua")


def quantiles(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100)
    return {"p50": round(statistics.median(samples), 2), "p99": round(q[98], 2)}


def overrides(port: int, vendor: str) -> dict[str, Any]:
    return {
        "site": {"id": "bench"},
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port},
        "operators": [{"id": "ops", "role": "operator"}],
        # back-to-back opens measure latency, not the operator's rate limit (20/s, burst 60)
        "commands": {"operator": {"rate_per_s": 1000.0, "burst": 1000}},
        "intercoms": [
            {
                "id": IC,
                "vendor": vendor,
                "url": "http://127.0.0.1:1",
                "username": "admin",
                "password": "sim-secret",
                "door": DOOR,
                "answer_s": 600.0,
            }
        ],
        "daemon": {"log_level": "error"},
    }


async def calls_and_opens(directory: Path, port: int, vendor: str, n: int) -> dict[str, Any]:
    """Button press to the ringing message at a subscriber; intercom/open to its ok reply."""
    async with simulated_compound(directory, overrides(port, vendor)) as compound:
        daemon = Daemon(compound.config)
        await daemon.start()
        try:
            assert daemon.mqtt is not None
            await asyncio.wait_for(daemon.mqtt.connected.wait(), 10)
            while not daemon.devices.views[IC].online:
                await asyncio.sleep(0.05)
            sim = compound.intercom
            async with aiomqtt.Client(
                "127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5, socket_options=[NO_DELAY]
            ) as client:
                await client.subscribe(f"{BASE}/event/intercom_call", qos=0)
                reply_topic = f"{BASE}/reply/ops/bench"
                await client.subscribe(reply_topic, qos=1)
                await asyncio.sleep(0.2)
                messages = aiter(client.messages)
                calls = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    sim.press_button()
                    while True:
                        m = await anext(messages)
                        assert isinstance(m.payload, bytes)
                        if json.loads(m.payload)["body"]["state"] == "ringing":
                            break
                    calls.append((time.perf_counter() - t0) * 1000)
                    sim.hang_up()
                    while True:
                        m = await anext(messages)
                        assert isinstance(m.payload, bytes)
                        if json.loads(m.payload)["body"]["state"] == "ended":
                            break
                opens = []
                for _ in range(n):
                    props = Properties(PacketTypes.PUBLISH)
                    props.ResponseTopic = reply_topic
                    props.CorrelationData = uuid.uuid4().bytes
                    body = json.dumps({"issued_at": datetime.now(UTC).isoformat(), "target": IC})
                    before = len(sim.opens)
                    t0 = time.perf_counter()
                    await client.publish(
                        f"{BASE}/cmd/ops/intercom/open", body, qos=1, properties=props
                    )
                    while True:
                        m = await anext(messages)
                        if str(m.topic) == reply_topic:
                            break
                    opens.append((time.perf_counter() - t0) * 1000)
                    assert isinstance(m.payload, bytes)
                    assert json.loads(m.payload)["status"] == "ok", m.payload
                    assert len(sim.opens) == before + 1  # the relay switched before the reply
        finally:
            await daemon.stop()
    return {"calls": calls, "opens": opens}


# --- 50 intercoms ---------------------------------------------------------------------------


async def serve_sims(count: int) -> None:
    """Child process: ``count`` simulated intercoms; on ``go SECONDS INTERVAL`` each presents
    a card every INTERVAL s (card number = intercom index * 1e6 + serial); prints ``sent N``."""
    sims = []
    for i in range(count):
        sim = SIM_INTERCOMS[VENDORS[i % 3]](heartbeat_s=5.0)
        await sim.start()
        sims.append(sim)
    print(json.dumps([s.url for s in sims]), flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    _, seconds, interval = line.split()
    sent = 0
    end = time.monotonic() + float(seconds)
    serial = 0
    while time.monotonic() < end:
        serial += 1
        for i, sim in enumerate(sims):
            sim.card(i * 1_000_000 + serial)
            sent += 1
        await asyncio.sleep(float(interval))
    print(f"sent {sent}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for sim in sims:
        await sim.stop()


async def scale(directory: Path, count: int, seconds: float, interval: float) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-sims", str(count),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    urls = json.loads(await child.stdout.readline())
    account = {"username": "admin", "password": "sim-secret"}
    intercoms = [
        {"id": f"ic{i:02d}", "vendor": VENDORS[i % 3], "url": url, "door": f"door{i:02d}"} | account
        for i, url in enumerate(urls)
    ]
    data = {
        "site": {"id": "bench50"},
        "store": {"path": str(directory / "scale.db")},
        "daemon": {"control_socket": str(directory / "scale.sock"), "log_level": "error"},
        "doors": [{"id": f"door{i:02d}"} for i in range(count)],
        "intercoms": intercoms,
    }
    path = directory / "scale.toml"
    path.write_text(tomlw.dumps(data))
    daemon = Daemon(load(path))
    await daemon.start()
    try:
        while not all(daemon.devices.views[ic["id"]].online for ic in intercoms):
            await asyncio.sleep(0.1)
        cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        child.stdin.write(f"go {seconds} {interval}\n".encode())
        await child.stdin.drain()
        sent = int((await child.stdout.readline()).split()[1])
        deadline = time.monotonic() + 10
        decided = 0
        while time.monotonic() < deadline:
            conn = sqlite3.connect(str(directory / "scale.db"))
            decided = conn.execute(
                "SELECT count(*) FROM journal WHERE kind = 'access_decided'"
            ).fetchone()[0]
            conn.close()
            if decided >= sent:
                break
            await asyncio.sleep(0.2)
        cpu1, wall1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    finally:
        await daemon.stop()
        child.stdin.write(b"stop\n")
        await child.stdin.drain()
        await child.wait()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    cores = os.cpu_count() or 1
    return {
        "intercoms": count,
        "cards_sent": sent,
        "cards_decided": decided,
        "events_lost": sent - decided,
        "cpu_share_50": round(cpu / (wall1 - wall0) / cores, 3),
        "events_per_s": round(sent / seconds, 1),
    }


async def main(quick: bool) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    n, seconds = (60, 5.0) if quick else (400, 30.0)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port = free_port()
        broker = start_broker(directory, port)
        try:
            for vendor in VENDORS:
                out = await calls_and_opens(directory / vendor, port, vendor, n)
                call = quantiles(out["calls"])
                figures[f"call_{vendor}_p50_ms"] = call["p50"]
                figures[f"call_{vendor}_p99_ms"] = call["p99"]
                opened = quantiles(out["opens"])
                figures[f"open_{vendor}_p50_ms"] = opened["p50"]
                figures[f"open_{vendor}_p99_ms"] = opened["p99"]
        finally:
            broker.terminate()
            broker.wait()
        figures["call_p99_ms"] = max(figures[f"call_{v}_p99_ms"] for v in VENDORS)
        figures["open_p99_ms"] = max(figures[f"open_{v}_p99_ms"] for v in VENDORS)  # worst vendor
        figures["samples"] = n
        figures |= await scale(directory, 50, seconds, 0.5)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    parser.add_argument("--serve-sims", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sims:
        asyncio.run(serve_sims(args.serve_sims))
        sys.exit(0)
    figures = asyncio.run(main(args.quick))
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")
