"""An operator's console for tests: a real aiomqtt client speaking the documented protocol,
and a daemon with MQTT enabled against the secure broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.base import Emit, Health
from edgectl.config import Config
from edgectl.daemon import Daemon
from edgectl.devices import DeviceView
from edgectl.domain import Command, GateState
from tests.conftest import SecureBroker
from tests.site import door_site

BASE = "edgectl/test-site"
OPERATORS = [
    {"id": "alice", "role": "operator"},
    {"id": "gina", "role": "guard"},
    {"id": "victor", "role": "viewer"},
    {"id": "mallory", "role": "operator"},
]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def mqtt_site(directory: Path, broker: SecureBroker, reader_port: str, **mqtt: Any) -> Config:
    directory.mkdir(parents=True, exist_ok=True)
    section = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": broker.tls_port,
        "username": "edgectl",
        "password": broker.users["edgectl"],
        "tls": {"ca_file": str(broker.ca)},
        **mqtt,
    }
    return door_site(directory, {"r1": reader_port}, mqtt=section, operators=OPERATORS)[1]


@dataclass
class StandInGate:
    """A driver owning ``gate-1`` behind the real router until the Modbus gate lands."""

    id: str = "stand-in-gate"
    received: asyncio.Queue[Command] = field(default_factory=asyncio.Queue)
    delay_s: float = 0.0

    @property
    def devices(self) -> frozenset[str]:
        return frozenset({"gate-1", "door-r1"})

    async def run(self, emit: Emit) -> None:
        await asyncio.Event().wait()

    async def execute(self, command: Command) -> None:
        await asyncio.sleep(self.delay_s)
        self.received.put_nowait(command)

    def health(self) -> Health:
        return Health(True)


@contextlib.asynccontextmanager
async def running_daemon(config: Config) -> AsyncIterator[tuple[Daemon, StandInGate]]:
    daemon = Daemon(config)
    await daemon.start()
    gate = StandInGate()
    daemon.devices.views["gate-1"] = DeviceView("gate-1", "gate")
    daemon.devices.observe(GateState(source="gate-1", at=datetime.now(UTC), state="closed"))
    daemon.router.attach(gate)
    try:
        assert daemon.mqtt is not None
        await asyncio.wait_for(daemon.mqtt.connected.wait(), 10)
        yield daemon, gate
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
    ) as client:
        c = Console(client, user, v5)
        await client.subscribe(f"{c.reply_topic}/#", qos=1)
        for topic in subscribe:
            await client.subscribe(topic, qos=1)
        yield c
