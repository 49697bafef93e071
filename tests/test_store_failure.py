"""A journal commit that fails for good at runtime (not a full disk, not a lock): operators
hear of it at once over MQTT, health turns red, metrics count it, and the outage is
journaled once commits work again."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import aiohttp
import aiomqtt

from drivers.sim.ptys import PtyPair
from drivers.sim.wiegand_converter import SimWiegandConverter
from edgectl import control_client
from tests.conftest import Broker, free_port
from tests.daemon_helpers import running, wait_for
from tests.site import door_site
from tests.sync_support import until

BREAK = (
    "CREATE TRIGGER broken BEFORE INSERT ON journal "
    "BEGIN SELECT RAISE(ABORT, 'database disk image is malformed'); END"
)


def _sql(db: str, statement: str) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute(statement)


async def _metric(port: int, name: str) -> float:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            text = await resp.text()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def test_failed_commit_alarms_over_mqtt_turns_health_red_and_is_counted(
    tmp_path: Path, pty_pair: PtyPair, broker: Broker
) -> None:
    metrics_port = free_port()
    _, cfg = door_site(
        tmp_path,
        {"r1": pty_pair.host},
        mqtt={"enabled": True, "host": broker.host, "port": broker.port},
        daemon={
            "control_socket": str(tmp_path / "control.sock"),
            "metrics_port": metrics_port,
            "log_level": "warning",
        },
    )
    async with (
        aiomqtt.Client(broker.host, broker.port) as client,
        running(cfg) as (daemon, events),
    ):
        await client.subscribe(f"{cfg.base_topic}/event/store_failed", qos=1)
        reader = SimWiegandConverter(pty_pair.device)
        try:
            # device_online may commit before the test subscribes (start awaits the metrics
            # server): wait on the reader driver's own health instead
            await until(lambda: daemon.drivers[0].health().online)
            before = await _metric(metrics_port, "edgectl_journal_commit_failures_total")
            _sql(cfg.store.path, BREAK)
            reader.present("h10301", 1, 1)
            async with asyncio.timeout(10):
                message = await anext(aiter(client.messages))
            alarm = json.loads(message.payload)  # type: ignore[arg-type]
            assert alarm["body"]["active"] is True
            assert "malformed" in alarm["body"]["error"]
            _, status = await control_client.request(cfg.daemon.control_socket, "GET", "/v1/status")
            assert status["health"] == "red"
            after = await _metric(metrics_port, "edgectl_journal_commit_failures_total")
            assert after >= before + 1

            _sql(cfg.store.path, "DROP TRIGGER broken")
            reader.present("h10301", 1, 2)
            recovered = await wait_for(events, "store_failed")
            while recovered.seq == 0:  # the live alarm (not journaled) comes first
                recovered = await wait_for(events, "store_failed")
            assert recovered.body["active"] is False
            assert recovered.body["lost_events"] >= 1
            _, status = await control_client.request(cfg.daemon.control_socket, "GET", "/v1/status")
            assert status["health"] == "green"
        finally:
            reader.close()
