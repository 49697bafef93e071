"""Arrivals routed to the butler's own topic, and Home Assistant discovery when enabled."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from tests.conftest import SecureBroker
from tests.mqtt_console import BASE, DOOR, GATE, READER, console, online, running_site


async def test_arrival_reaches_only_the_residents_butler(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    """A resident who opted in swipes at the gate; the rules engine's arrival reaches their
    butler's topic, and the broker shows each butler only their own residents."""
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina", subscribe=(f"{BASE}/butler/#",)) as gina,
        console(secure_broker, "edgectl", subscribe=(f"{BASE}/butler/#",)) as watcher,
    ):
        admin = site.daemon.site
        await admin.call(
            SiteService.upsert_person,
            "p1",
            name="Mr Chen",
            butler_id="gina",
            notify_arrival=True,
            actor=SYSTEM,
        )
        await admin.call(
            SiteService.upsert_person,
            "p2",
            name="Ms Li",
            butler_id="li",
            notify_arrival=True,
            actor=SYSTEM,
        )
        await admin.call(SiteService.add_card, "p1", 7, 1, actor=SYSTEM)
        await admin.call(SiteService.add_card, "p2", 7, 2, actor=SYSTEM)
        await online(site.daemon, READER)
        site.compound.reader.present("h10301", 7, 1)
        site.compound.reader.present("h10301", 7, 2)
        async with asyncio.timeout(5):
            got = [await anext(aiter(watcher.client.messages)) for _ in range(2)]
            mine = await anext(aiter(gina.client.messages))
        assert sorted(str(m.topic) for m in got) == [
            f"{BASE}/butler/gina/arrival",
            f"{BASE}/butler/li/arrival",
        ]
        assert str(mine.topic) == f"{BASE}/butler/gina/arrival"  # the ACL hides li's residents
        assert isinstance(mine.payload, bytes)
        body = json.loads(mine.payload)["body"]
        assert (body["person_name"], body["gate"]) == ("Mr Chen", GATE)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await anext(aiter(gina.client.messages))


async def test_home_assistant_discovery_only_when_enabled(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async def discovered() -> dict[str, dict[str, str]]:
        async with aiomqtt.Client(
            "127.0.0.1", secure_broker.port, username="homeassistant",
            password=secure_broker.users["homeassistant"], timeout=5,
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
