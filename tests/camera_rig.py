"""A camera driver running against a simulated ONVIF camera, with its emitted events."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from drivers.onvif.driver import CameraDriver
from drivers.onvif.settings import Camera, HealthSettings
from drivers.sim.camera import SimCamera
from edgectl.domain import Event
from edgectl.store.evidence import EvidenceStore
from tests.tasks import background

E = TypeVar("E", bound=Event)


@dataclass
class Rig:
    sim: SimCamera
    driver: CameraDriver
    store: EvidenceStore
    events: list[Event] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def emit(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = 10.0
    ) -> E:
        """The first emitted event of ``kind`` matching ``where`` (waits for it)."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if isinstance(event, kind) and where(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


async def until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true, looking every 20 ms (for state seen on the sim side)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def camera_settings(sim: SimCamera, **over: Any) -> Camera:
    health = over.pop("health", HealthSettings(enabled=False))
    base = Camera(
        id="cam1",
        host="127.0.0.1",
        port=sim.port,
        username="admin",
        password="secret",
        timeout_s=2.0,
        backoff_s=0.1,
        backoff_max_s=0.5,
        keepalive_s=0.3,
        health=health,
    )
    return dataclasses.replace(base, **over)


@contextlib.asynccontextmanager
async def camera_rig(
    tmp_path: Path, sim: SimCamera | None = None, store_mb: float = 5.0, **over: Any
) -> AsyncIterator[Rig]:
    sim = sim or SimCamera(skew_s=3600)
    if not sim.port:
        await sim.start()
    store = EvidenceStore(tmp_path / "evidence", int(store_mb * 1024 * 1024), 1024 * 1024)
    driver = CameraDriver(camera_settings(sim, **over), store)
    rig = Rig(sim, driver, store)
    try:
        async with background(driver.run(rig.emit)):
            yield rig
    finally:
        await sim.stop()
