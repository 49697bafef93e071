"""Helpers shared by the sync tests: realistic events and running a client until a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from edgectl.domain import AccessDecided, Event, GateState, VehicleDetected
from sync.client import SyncClient
from tests.tasks import background


def make_event(i: int) -> Event:
    """A mix of access, device and telemetry events, distinguishable by ``i``."""
    now = datetime.now(UTC)
    if i % 3 == 0:
        return AccessDecided(
            source="reader-1", at=now, granted=i % 2 == 0, reason="ok", credential=f"h10301:1:{i}"
        )
    if i % 3 == 1:
        return GateState(source="gate-1", at=now, state="open", position=i % 100)
    return VehicleDetected(source="loop-1", at=now, present=bool(i % 2))


async def until(done: Callable[[], object], limit_s: float = 10.0) -> None:
    """Poll ``done()`` (state lives in SQLite, not in an awaitable) until true or time out."""
    async with asyncio.timeout(limit_s):
        while True:
            if done():
                return
            await asyncio.sleep(0.01)


async def run_until(client: SyncClient, done: Callable[[], bool], limit_s: float = 15.0) -> None:
    """Run ``client`` until ``done()`` holds; fail after ``limit_s`` seconds."""
    async with background(client.run()) as task, asyncio.timeout(limit_s):
        while not done():
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
