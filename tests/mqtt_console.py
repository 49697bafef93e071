"""An operator's console for tests: a real aiomqtt client speaking the documented protocol,
and the simulated compound run by a daemon with MQTT enabled against the secure broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.sim.io_module import SimIoModule
from edgectl.daemon import Daemon
from edgectl.mqtt import MqttInterface
from edgectl.simulation import Compound, merge, simulated_compound
from tests.conftest import SecureBroker

BASE = "edgectl/riverside"
GATE, DOOR, READER = "main-gate", "lobby-a", "main-gate-in"  # in config.example.toml
OPERATORS = [
    {"id": "alice", "role": "operator"},
    {"id": "gina", "role": "guard"},
    {"id": "victor", "role": "viewer"},
    {"id": "mallory", "role": "operator"},
]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def mqtt_overrides(broker: SecureBroker, **mqtt: Any) -> dict[str, Any]:
    """Config overrides: the daemon logs in as ``edgectl`` over TLS; the operators above."""
    section = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": broker.tls_port,
        "username": "edgectl",
        "password": broker.users["edgectl"],
        "tls": {"ca_file": str(broker.ca)},
        **mqtt,
    }
    return {"site": {"id": "riverside"}, "mqtt": section, "operators": OPERATORS}


@dataclass
class Site:
    daemon: Daemon
    compound: Compound

    @property
    def door(self) -> SimIoModule:
        """The simulated I/O module on the bus whose coil 0 is the lobby door's strike."""
        return self.compound.gates.io[2]

    @property
    def strike(self) -> list[bool]:
        """What the lobby door's strike relay was told on the wire, oldest first."""
        return [on for _, coil, on in self.door.writes if coil == 0]

    async def strike_becomes(self, expected: list[bool], timeout: float = 2.0) -> None:
        for _ in range(int(timeout / 0.01)):
            if self.strike == expected:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"strike received {self.strike}, expected {expected}")

    @property
    def coils(self) -> list[str]:
        """Commands the simulated gate received on the wire, oldest first."""
        return [name for _, name in self.compound.gates.gates[1].model.commands]

    async def coils_become(self, expected: list[str], timeout: float = 2.0) -> None:
        """Wait for the simulated gate to have received ``expected`` (a write in flight)."""
        for _ in range(int(timeout / 0.01)):
            if self.coils == expected:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"gate received {self.coils}, expected {expected}")

    @property
    def mqtt(self) -> MqttInterface:
        assert self.daemon.mqtt is not None
        return self.daemon.mqtt


@contextlib.asynccontextmanager
async def running_site(
    directory: Path,
    broker: SecureBroker,
    *,
    connected: bool = True,
    site_overrides: dict[str, Any] | None = None,
    cameras: int = 0,
    **mqtt: Any,
) -> AsyncIterator[Site]:
    """The simulated compound (Modbus gate, Wiegand reader) run by a daemon with MQTT on."""
    overrides = merge(mqtt_overrides(broker, **mqtt), site_overrides or {})
    async with simulated_compound(directory, overrides, cameras=cameras) as compound:
        daemon = Daemon(compound.config)
        await daemon.start()
        site = Site(daemon, compound)
        try:
            if connected:
                await asyncio.wait_for(site.mqtt.connected.wait(), 10)
            yield site
        finally:
            await daemon.stop()


async def online(daemon: Daemon, device: str, timeout: float = 5.0) -> None:
    """Wait until the registry shows ``device`` online."""
    seen = asyncio.Event()
    daemon.devices.listen(lambda view: seen.set() if view.id == device and view.online else None)
    if not daemon.devices.views[device].online:
        await asyncio.wait_for(seen.wait(), timeout)


class Console:
    """One operator's connection; ``request`` sends a command and waits for its reply."""

    def __init__(self, client: aiomqtt.Client, user: str, v5: bool) -> None:
        self.client, self.user, self.v5 = client, user, v5
        self.reply_topic = f"{BASE}/reply/{user}"

    async def send(
        self,
        command: str,
        body: dict[str, Any] | bytes,
        *,
        operator: str | None = None,
        correlation: bytes | None = None,
        response_topic: str | None = None,
    ) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        props = None
        if self.v5:
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = response_topic or self.reply_topic
            if correlation is not None:
                props.CorrelationData = correlation
        topic = f"{BASE}/cmd/{operator or self.user}/{command}"
        await self.client.publish(topic, payload, qos=1, properties=props)

    async def request(
        self,
        command: str,
        body: dict[str, Any] | bytes | None = None,
        timeout: float = 5.0,
        **kw: Any,
    ) -> dict[str, Any]:
        if body is None:
            body = {}
        if isinstance(body, dict):
            body = {"issued_at": now_iso(), **body}
            if not self.v5:
                body.setdefault("transaction", uuid.uuid4().hex)
        correlation = kw.pop("correlation", uuid.uuid4().bytes if self.v5 else None)
        await self.send(command, body, correlation=correlation, **kw)
        return await self.reply(timeout)

    async def reply(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            async for message in self.client.messages:
                if str(message.topic).startswith(self.reply_topic):
                    assert isinstance(message.payload, bytes)
                    doc: dict[str, Any] = json.loads(message.payload)
                    if self.v5:
                        doc["_correlation"] = getattr(message.properties, "CorrelationData", None)
                    return doc
        raise AssertionError("unreachable")

    async def message(self, topic: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message on ``topic`` as JSON (messages on other topics are skipped)."""
        async with asyncio.timeout(timeout):
            async for message in self.client.messages:
                if str(message.topic) == topic:
                    assert isinstance(message.payload, bytes)
                    doc: dict[str, Any] = json.loads(message.payload)
                    return doc
        raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def console(
    broker: SecureBroker, user: str, *, v5: bool = True, subscribe: tuple[str, ...] = ()
) -> AsyncIterator[Console]:
    protocol = aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=user,
        password=broker.users[user],
        protocol=protocol,
        identifier=f"console-{user}-{uuid.uuid4().hex[:6]}",
        timeout=5,
    ) as client:
        c = Console(client, user, v5)
        await client.subscribe(f"{c.reply_topic}/#", qos=1)
        for topic in subscribe:
            await client.subscribe(topic, qos=1)
        yield c
