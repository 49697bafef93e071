"""End to end: a card on the reader's pty, the daemon deciding, the gate's coil on its pty."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

from edgectl.daemon import Daemon
from edgectl.simulation import Compound, simulated_compound
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.journal import read_entries
from tests.cli_helpers import edgectl
from tests.conftest import Broker
from tests.daemon_helpers import running, wait_for


def open_commands(compound: Compound) -> list[float]:
    return [t for t, name in compound.gates.gates[1].model.commands if name == "open"]


async def test_valid_card_writes_open_coil_within_200ms(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path) as compound:
        async with running(compound.config) as (daemon, events):
            await daemon.site.call(SiteService.add_card, "res-1", 12, 1001, actor=SYSTEM)
            await wait_for(events, "device_online")
            await wait_for(events, "gate_state")  # the bus is up and polling
            latencies = []
            for _ in range(5):
                before = len(open_commands(compound))
                sent = time.monotonic()
                compound.reader.present("h10301", 12, 1001)
                async with asyncio.timeout(2):
                    while len(open_commands(compound)) == before:
                        await asyncio.sleep(0.001)
                latencies.append(open_commands(compound)[-1] - sent)
                decided = await wait_for(events, "access_decided")
                assert decided.body["granted"] is True
                assert decided.body["target"] == "main-gate"
            assert max(latencies) < 0.2, latencies


async def test_revoked_and_unknown_cards_write_nothing(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path) as compound:
        async with running(compound.config) as (daemon, events):
            await daemon.site.call(SiteService.add_card, "res-2", 12, 1002, actor=SYSTEM)
            await daemon.site.call(SiteService.set_card_status, 12, 1002, "revoked", actor=SYSTEM)
            await wait_for(events, "gate_state")
            compound.reader.present("h10301", 12, 1002)
            compound.reader.present("h10301", 12, 4242)
            reasons = [(await wait_for(events, "access_decided")).body["reason"] for _ in range(2)]
            await asyncio.sleep(0.3)
            assert reasons == ["revoked", "unknown_credential"]
            assert open_commands(compound) == []


async def test_gate_open_via_daemon_then_direct(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path) as compound:
        daemon = Daemon(compound.config)
        await daemon.start()
        events = daemon.journal.subscribe()
        await wait_for(events, "gate_state")
        result = await asyncio.to_thread(
            edgectl, "gate", "open", "main-gate", "--config", str(compound.config_path)
        )
        assert result.returncode == 0, result.stderr
        assert "via daemon" in result.stdout
        assert len(open_commands(compound)) == 1
        audit = await wait_for(events, "operator_command")
        assert audit.body["command"] == "gate/open" and audit.body["outcome"] == "ok"
        assert audit.body["interface"] == "control" and audit.source.startswith("local:")
        await asyncio.sleep(0.6)  # the gate reports opening on its next poll
        status = await asyncio.to_thread(
            edgectl, "gate", "status", "main-gate", "--json", "--config", str(compound.config_path)
        )
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert shown["via"] == "daemon" and shown["profile"] == "came_zlb30"
        assert shown["state"] in ("opening", "open") and "total_cycles" in shown["counters"]
        await daemon.stop()
        result = await asyncio.to_thread(
            edgectl, "gate", "close", "main-gate", "--config", str(compound.config_path)
        )
        assert result.returncode == 0, result.stderr
        assert "directly" in result.stdout
        assert [n for _, n in compound.gates.gates[1].model.commands] == ["open", "close"]
        conn = sqlite3.connect(compound.config.store.path)
        rows = read_entries(conn, 0, 100, ("operator_command",))
        conn.close()
        assert [(r.body["interface"], r.body["command"], r.body["outcome"]) for r in rows] == [
            ("control", "gate/open", "ok"),
            ("cli-direct", "gate/close", "ok"),  # the fallback journals what it did
        ]
        assert rows[1].source == rows[0].source  # the same local user both times


async def test_gate_command_for_unknown_gate_exits_2(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path) as compound:
        result = await asyncio.to_thread(
            edgectl, "gate", "open", "side-gate", "--config", str(compound.config_path)
        )
        assert result.returncode == 2
        assert "unknown gate 'side-gate'" in result.stderr


async def test_decision_is_published_on_mqtt(tmp_path: Path, broker: Broker) -> None:
    import aiomqtt

    overrides = {"mqtt": {"enabled": True, "host": broker.host, "port": broker.port}}
    async with (
        simulated_compound(tmp_path, overrides) as compound,
        running(compound.config) as (daemon, events),
        aiomqtt.Client(broker.host, broker.port) as client,
    ):
        await client.subscribe(f"{compound.config.base_topic}/event/access_decided", qos=1)
        await daemon.site.call(SiteService.add_card, "res-1", 12, 1001, actor=SYSTEM)
        await wait_for(events, "gate_state")
        compound.reader.present("h10301", 12, 1001)
        async with asyncio.timeout(5):
            message = await anext(aiter(client.messages))
        published = json.loads(message.payload)
        assert published["kind"] == "access_decided" and published["body"]["granted"] is True
        assert published["seq"] == (await wait_for(events, "access_decided")).seq
