"""Arrivals routed to the butler's own topic, and Home Assistant discovery when enabled."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import aiomqtt

from edgectl.domain import Event, EventClass
from tests.conftest import SecureBroker
from tests.mqtt_console import BASE, DOOR, console, running_site


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival(Event):
    """The shape the rules engine's arrival event has: a person and their butler."""

    KIND: ClassVar[str] = "arrival"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    butler_id: str
    person_id: str


async def test_arrival_reaches_only_the_residents_butler(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina", subscribe=(f"{BASE}/butler/#",)) as gina,
        console(secure_broker, "edgectl", subscribe=(f"{BASE}/butler/#",)) as watcher,
    ):
        at = datetime.now(UTC)
        await site.daemon.router.record(
            Arrival(source="main-gate-in", at=at, person_id="p1", butler_id="gina")
        )
        await site.daemon.router.record(
            Arrival(source="main-gate-in", at=at, person_id="p2", butler_id="li")
        )
        got = [await anext(aiter(watcher.client.messages)) for _ in range(2)]
        assert sorted(str(m.topic) for m in got) == [
            f"{BASE}/butler/gina/arrival",
            f"{BASE}/butler/li/arrival",
        ]
        mine = await anext(aiter(gina.client.messages))  # the ACL hides li's residents
        assert str(mine.topic) == f"{BASE}/butler/gina/arrival"
        assert isinstance(mine.payload, bytes)
        assert json.loads(mine.payload)["body"]["person_id"] == "p1"


async def test_home_assistant_discovery_only_when_enabled(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async def discovered() -> dict[str, dict[str, str]]:
        async with aiomqtt.Client(
            "127.0.0.1", secure_broker.port, username="homeassistant",
            password=secure_broker.users["homeassistant"],
        ) as c:  # fmt: skip
            await c.subscribe("homeassistant/#")
            out: dict[str, dict[str, str]] = {}
            try:
                async with asyncio.timeout(0.5):
                    async for m in c.messages:
                        assert isinstance(m.payload, bytes)
                        out[str(m.topic)] = json.loads(m.payload)
            except TimeoutError:
                return out
        return out

    async with running_site(tmp_path / "off", secure_broker):
        assert await discovered() == {}
    async with running_site(tmp_path / "on", secure_broker, ha_discovery=True):
        found = await discovered()
    uid = f"edgectl_riverside_{DOOR}"
    entity = found[f"homeassistant/binary_sensor/{uid}/config"]
    assert entity["state_topic"] == f"{BASE}/device/{DOOR}/state"
    assert entity["availability_topic"] == f"{BASE}/availability"
