"""The broker comes and goes: the daemon starts without it, keeps deciding cards, reconnects,
and puts the retained state back; a broken connection mid-command never acts twice or crashes."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

from structlog.testing import capture_logs

from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from tests.conftest import SecureBroker
from tests.mqtt_console import BASE, DOOR, GATE, READER, console, now_iso, online, running_site
from tests.test_daemon_reader import wait_for
from tests.test_mqtt_commands import operator_commands


async def retained(broker: SecureBroker, topic: str, n: int) -> dict[str, str]:
    async with console(broker, "victor", subscribe=(topic,)) as viewer:
        out: dict[str, str] = {}
        async with asyncio.timeout(5):
            async for message in viewer.client.messages:
                assert isinstance(message.payload, bytes)
                out[str(message.topic)] = message.payload.decode()
                if len(out) == n:
                    return out
    raise AssertionError("unreachable")


async def test_broker_down_at_start_and_restarted_mid_run(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    secure_broker.stop()
    started = time.perf_counter()
    async with running_site(tmp_path, secure_broker, connected=False) as site:
        assert time.perf_counter() - started < 3.0  # start never waits on the broker
        daemon, reader = site.daemon, site.compound.reader
        events = daemon.journal.subscribe()
        await daemon.site.call(SiteService.add_card, "p1", 1, 1, actor=SYSTEM)
        await online(daemon, READER)
        reader.present("h10301", 1, 1)
        assert (await wait_for(events, "access_decided")).body["granted"] is True
        secure_broker.start()
        await asyncio.wait_for(site.mqtt.connected.wait(), 10)
        states = await retained(secure_broker, f"{BASE}/device/+/state", 3)
        assert json.loads(states[f"{BASE}/device/{READER}/state"])["online"] is True

        secure_broker.stop()  # mid-run: cards are still decided and gates still open
        for n in range(3):
            reader.present("h10301", 1, 1)
            assert (await wait_for(events, "access_decided")).body["granted"] is True
            await site.coils_become(["open"] * (n + 2))
        assert not site.mqtt.connected.is_set()
        secure_broker.start()  # no persistence: every retained message is gone
        await asyncio.wait_for(site.mqtt.connected.wait(), 10)
        back = await retained(secure_broker, f"{BASE}/#", 4)  # availability + 3 device states
        assert back[f"{BASE}/availability"] == "online"
        assert json.loads(back[f"{BASE}/device/{GATE}/state"])["online"] is True
        reader.present("h10301", 1, 1)
        assert (await wait_for(events, "access_decided")).body["granted"] is True


async def test_graceful_stop_leaves_offline_retained(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with running_site(tmp_path, secure_broker):
        assert (await retained(secure_broker, f"{BASE}/availability", 1)) == {
            f"{BASE}/availability": "online"
        }
    assert (await retained(secure_broker, f"{BASE}/availability", 1)) == {
        f"{BASE}/availability": "offline"
    }


def _field(text: str) -> bytes:
    return len(text).to_bytes(2, "big") + text.encode()


def partial_publish(broker: SecureBroker, user: str, topic: str, payload: bytes) -> None:
    """A raw MQTT 3.1.1 client that dies half-way through a PUBLISH packet."""
    body = _field("MQTT") + bytes([4, 0xC2, 0, 60])
    body += _field(f"raw-{user}") + _field(user) + _field(broker.users[user])
    with socket.create_connection((broker.host, broker.port), timeout=2) as s:
        s.sendall(bytes([0x10, len(body)]) + body)
        assert s.recv(4)[:2] == b"\x20\x02"  # CONNACK
        packet = _field(topic) + payload
        s.sendall(bytes([0x30, len(packet)]) + packet[: len(packet) - 10])


async def test_connection_cut_mid_command_is_no_action(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    request = {"issued_at": now_iso(), "transaction": "cut", "target": GATE}
    slow_bus = {"id": "rs485-1", "port": str(tmp_path / "bus-host"), "latency_ms": 1000.0}
    async with running_site(tmp_path, secure_broker, site_overrides={"buses": [slow_bus]}) as site:
        partial_publish(
            secure_broker, "alice", f"{BASE}/cmd/alice/gate/open", json.dumps(request).encode()
        )
        async with console(secure_broker, "alice") as alice:
            assert (await alice.request("query/devices"))["status"] == "ok"
        assert site.coils == []

        # The daemon's own link breaks while a slow lock is carrying out a command: it is
        # carried out once and journaled, the reply is dropped with a log, it reconnects.
        site.door.delay_s = 0.5
        async with console(secure_broker, "alice") as alice:
            with capture_logs() as logs:
                await alice.send("door/unlock", request | {"transaction": "t2", "target": DOOR})
                await asyncio.sleep(0.2)
                secure_broker.stop()
                await site.strike_becomes([True])
                for _ in range(100):
                    if any(e["event"] == "mqtt_reply_dropped" for e in logs):
                        break
                    await asyncio.sleep(0.02)
            assert any(e["event"] == "mqtt_reply_dropped" for e in logs), logs
        secure_broker.start()
        await asyncio.wait_for(site.mqtt.connected.wait(), 10)
        assert site.coils == [] and site.strike[:1] == [True] and sum(site.strike) == 1
        path = site.compound.config.store.path
    rows = operator_commands(path)
    assert [(r.body["command"], r.body["outcome"]) for r in rows][-1] == ("door/unlock", "ok")
