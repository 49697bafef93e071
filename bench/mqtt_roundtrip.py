"""Operator round trip and event throughput over MQTT, on loopback with a real mosquitto.

Round trip: an operator's ``gate/open`` request (MQTT 5, correlation data) to its ``ok``
response, on the simulated compound: the daemon answers only after the Modbus driver has
written the open coil on the simulated gate (over a pty RS-485 line at ``--baud``) and the
``operator_command`` audit row has committed. Throughput: events recorded into the journal
until a subscriber on ``event/#`` has received them all.

Flood (``--flood``): the same round trip while another broker user (a viewer) publishes
forbidden commands as fast as the broker takes them, 20,000 at a time with the stock
``mosquitto_pub -l`` at QoS 1 (run at ``nice 19``: on a site the flooder is remote, not
on the box), round after round until the operator is done; the operator opens the gate
every 250 ms. ``flood_taken`` is how many of them the daemon took off the broker. Reports ``p50_ms_flood``/``p99_ms_flood`` and
``operator_lost`` (requests with no answer within 5 s; the target is none).

    python bench/mqtt_roundtrip.py [--quick] [--json] [--baud 9600] [--flood]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import statistics
import subprocess
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

from drivers.sim.gate import GateModel
from edgectl.daemon import Daemon
from edgectl.domain import VehicleDetected
from edgectl.mqtt.connection import NO_DELAY
from edgectl.simulation import simulated_compound

BASE = "edgectl/bench"
GATE = "main-gate"  # in config.example.toml
CHUNK = 1000
FLOOD_BATCH = 20_000
FLOOD_PERIOD_S = 0.25
ERRORS: dict[str, int] = {}  # error replies by code (device_error: the gate did not answer)


def start_broker(directory: Path, port: int) -> subprocess.Popen[bytes]:
    conf = directory / "mosquitto.conf"
    conf.write_text(  # the shipped docs/mosquitto.conf's limits, without TLS or passwords
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "set_tcp_nodelay true\nmax_packet_size 65536\n"
        "max_inflight_messages 20\nmax_queued_messages 1000\n"
    )
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def open_once(
    client: aiomqtt.Client, messages: Any, reply_topic: str, gate: GateModel, timeout: float
) -> float | None:
    """One ``gate/open`` round trip in ms; None if no answer within ``timeout``. An answer
    other than ``ok`` (the gate did not reply in time) is counted in ``ERRORS``."""
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = reply_topic
    props.CorrelationData = correlation = uuid.uuid4().bytes
    body = json.dumps({"issued_at": datetime.now(UTC).isoformat(), "target": GATE})
    before = len(gate.commands)
    t0 = time.perf_counter()
    await client.publish(f"{BASE}/cmd/ops/gate/open", body, qos=1, properties=props)
    try:
        async with asyncio.timeout(timeout):
            while True:  # a late answer to an earlier, timed-out request is skipped
                message = await anext(messages)
                if getattr(message.properties, "CorrelationData", None) == correlation:
                    break
    except TimeoutError:
        return None
    took = (time.perf_counter() - t0) * 1000
    assert isinstance(message.payload, bytes)
    reply = json.loads(message.payload)
    if reply["status"] != "ok":
        ERRORS[reply["code"]] = ERRORS.get(reply["code"], 0) + 1
        return took
    assert len(gate.commands) > before  # the coil was written before the response
    return took


async def roundtrips(client: aiomqtt.Client, n: int, gate: GateModel) -> list[float]:
    reply_topic = f"{BASE}/reply/ops/bench"
    await client.subscribe(reply_topic, qos=1)
    messages = aiter(client.messages)
    out: list[float] = []
    for _ in range(n):
        took = await open_once(client, messages, reply_topic, gate, 10)
        assert took is not None, "no answer in 10 s"
        out.append(took)
    return out


def flood_rounds(port: int, qos: int, stop: asyncio.Event, sent: list[int]) -> None:
    """Blocking (run in a thread): 20,000 forbidden commands per round from the viewer."""
    body = json.dumps({"issued_at": datetime.now(UTC).isoformat(), "target": GATE})
    lines = ("\n".join([body] * FLOOD_BATCH) + "\n").encode()
    exe = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    while not stop.is_set():
        subprocess.run(  # niced: the flooder is a remote client, not on the site's box
            ["nice", "-n", "19", exe, "-p", str(port), "-V", "5", "-q", str(qos), "-i", f"flood-{uuid.uuid4().hex[:6]}",
             "-t", f"{BASE}/cmd/viewer/gate/open", "-l"],
            input=lines, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        sent[0] += FLOOD_BATCH


async def flooded_roundtrips(
    client: aiomqtt.Client, port: int, qos: int, n: int, gate: GateModel
) -> tuple[list[float], int, int, float]:
    """The operator's round trips while the viewer floods. Returns (latencies, lost,
    flood commands sent, flood seconds)."""
    reply_topic = f"{BASE}/reply/ops/flood"
    await client.subscribe(reply_topic, qos=1)
    stop, sent = asyncio.Event(), [0]
    loop = asyncio.get_running_loop()
    t_flood = time.perf_counter()
    flooding = loop.run_in_executor(None, flood_rounds, port, qos, stop, sent)
    await asyncio.sleep(0.3)  # the flood is under way
    out: list[float] = []
    lost = 0
    messages = aiter(client.messages)
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            took = await open_once(client, messages, reply_topic, gate, 5)
            if took is None:
                lost += 1
            else:
                out.append(took)
            await asyncio.sleep(max(0.0, FLOOD_PERIOD_S - (time.perf_counter() - t0)))
    finally:
        stop.set()
        await flooding
    return out, lost, sent[0], time.perf_counter() - t_flood


async def throughput(daemon: Daemon, client: aiomqtt.Client, n: int) -> tuple[float, int]:
    """Events per second from ``record`` to a subscriber; recorded in chunks that stay
    within the interface's 10 000-entry queue. Returns (rate, events not received)."""
    await client.subscribe(f"{BASE}/event/vehicle_detected", qos=0)
    await asyncio.sleep(0.2)
    received = 0
    progress = asyncio.Event()

    async def count() -> None:
        nonlocal received
        async for _ in client.messages:
            received += 1
            if received % CHUNK == 0:
                progress.set()
            if received == n:
                return

    counter = asyncio.create_task(count())
    t0 = time.perf_counter()
    at = datetime.now(UTC)
    for start in range(0, n, CHUNK):
        futures = [
            daemon.router.record(VehicleDetected(source=GATE, at=at, present=i % 2 == 0))
            for i in range(start, min(n, start + CHUNK))
        ]
        await futures[-1]
        while start + CHUNK - received > 2 * CHUNK:  # let the stream catch up
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), 5)
            except TimeoutError:
                break  # events were lost; reported below
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(counter, 10)
    return received / (time.perf_counter() - t0), n - received


async def main(quick: bool, baud: int, flood: bool, flood_qos: int) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    requests, events = (300, 3000) if quick else (3000, 30000)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port = free_port()
        broker = start_broker(directory, port)
        overrides = {
            "site": {"id": "bench"},
            "buses": [{"id": "rs485-1", "port": str(directory / "bus-host"), "baud": baud}],
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port},
            "operators": [{"id": "ops", "role": "operator"}, {"id": "viewer", "role": "viewer"}],
            # back-to-back requests measure the pipeline, not the operator's rate limit
            "commands": {"operator": {"rate_per_s": 10000.0, "burst": 10000}},
        }
        flooded: tuple[list[float], int, int, float] | None = None
        flood_taken = 0
        try:
            async with simulated_compound(directory, overrides) as compound:
                daemon = Daemon(compound.config)
                await daemon.start()
                try:
                    assert daemon.mqtt is not None
                    await asyncio.wait_for(daemon.mqtt.connected.wait(), 10)
                    async with aiomqtt.Client(
                        "127.0.0.1",
                        port,
                        protocol=aiomqtt.ProtocolVersion.V5,
                        socket_options=[NO_DELAY],
                    ) as client:
                        gate = compound.gates.gates[1].model
                        latencies = await roundtrips(client, requests, gate)
                        plain_errors = dict(ERRORS)
                        ERRORS.clear()
                        if flood:
                            flooded = await flooded_roundtrips(
                                client, port, flood_qos, 40 if quick else 200, gate
                            )
                            flood_taken = daemon.mqtt.intake.offered
                    async with aiomqtt.Client("127.0.0.1", port) as client:
                        rate, lost = await throughput(daemon, client, events)
                finally:
                    await daemon.stop()
        finally:
            broker.terminate()
            broker.wait()
    q = statistics.quantiles(latencies, n=100)
    figures = {
        "baud": baud,
        "requests": requests,
        "p50_ms": round(statistics.median(latencies), 3),
        "p90_ms": round(q[89], 3),
        "p99_ms": round(q[98], 3),
        "max_ms": round(max(latencies), 3),
        "events": events,
        "publish_per_s": round(rate),
        "events_lost": lost,
        "error_replies": plain_errors,
    }
    if flooded is not None:
        during, operator_lost, flood_sent, flood_s = flooded
        ranked = sorted(during)  # nearest rank: with 200 samples p99 is the 2nd worst
        figures |= {
            "flood_qos": flood_qos,
            "flood_commands": flood_sent,
            "flood_per_s": round(flood_sent / flood_s),
            "operator_requests": len(during) + operator_lost,
            "p50_ms_flood": round(statistics.median(during), 3),
            "p99_ms_flood": round(ranked[math.ceil(0.99 * len(ranked)) - 1], 3),
            "max_ms_flood": round(max(during), 3),
            "operator_lost": operator_lost,
            "error_replies_flood": dict(ERRORS),
            "flood_taken": flood_taken - requests - len(during) - operator_lost,
        }
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    parser.add_argument("--baud", type=int, default=9600, help="the simulated RS-485 bus speed")
    parser.add_argument("--flood", action="store_true", help="also: round trips under a flood")
    parser.add_argument("--flood-qos", type=int, choices=(0, 1), default=1, help="the flood's QoS")
    args = parser.parse_args()
    figures = asyncio.run(main(args.quick, args.baud, args.flood, args.flood_qos))
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>14}: {value}")
