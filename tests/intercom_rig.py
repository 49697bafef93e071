"""Simulated intercoms and a running driver against them, for the intercom tests."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from drivers.intercom.driver import IntercomDriver
from drivers.intercom.settings import Intercom
from drivers.sim.intercom_2n import Sim2N
from drivers.sim.intercom_base import SimIntercom
from drivers.sim.intercom_dahua import SimDahua
from drivers.sim.intercom_hikvision import SimHikvision
from edgectl.domain import Event
from tests.modbus_rig import wait_event
from tests.tasks import background

SIMS: dict[str, type[SimIntercom]] = {"2n": Sim2N, "hikvision": SimHikvision, "dahua": SimDahua}
VENDORS = tuple(SIMS)
USER, PASSWORD = "admin", "sim-secret"


def settings_for(vendor: str, url: str, **over: Any) -> Intercom:
    base = Intercom(
        id="ic1",
        vendor=vendor,  # type: ignore[arg-type]
        url=url,
        username=USER,
        password=PASSWORD,
        door="ped-door",
        relay=1,
        timeout_s=1.0,
        stall_s=2.0,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
        auth_backoff_s=60.0,
    )
    return replace(base, **over)


@dataclass
class Rig:
    sim: SimIntercom
    driver: IntercomDriver
    events: list[Event] = field(default_factory=list)

    async def wait(self, kind: str, within_s: float = 5.0, **fields: Any) -> Event:
        def match(e: Event) -> bool:
            body = e.body()
            return e.KIND == kind and all(body.get(k) == v for k, v in fields.items())

        return await wait_event(self.events, match, within_s)

    def count(self, kind: str) -> int:
        return sum(e.KIND == kind for e in self.events)


@contextlib.asynccontextmanager
async def sim_device(
    vendor: str, ssl_context: ssl.SSLContext | None = None, **kwargs: Any
) -> AsyncIterator[SimIntercom]:
    sim = SIMS[vendor](**({"heartbeat_s": 0.25} | kwargs))
    await sim.start(ssl_context=ssl_context)
    try:
        yield sim
    finally:
        await sim.stop()


@contextlib.asynccontextmanager
async def driven(sim: SimIntercom, settings: Intercom) -> AsyncIterator[Rig]:
    driver = IntercomDriver(settings)
    rig = Rig(sim, driver)
    async with background(driver.run(rig.events.append)):
        yield rig


@contextlib.asynccontextmanager
async def rig_for(vendor: str, **over: Any) -> AsyncIterator[Rig]:
    async with sim_device(vendor) as sim, driven(sim, settings_for(vendor, sim.url, **over)) as rig:
        await rig.wait("device_online")
        yield rig


async def wait_until(cond: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")
