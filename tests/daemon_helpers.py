"""Run the real daemon in the test's event loop and watch its committed journal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from edgectl.config import Config
from edgectl.daemon import Daemon
from edgectl.router import Clock, utc_now
from edgectl.store.journal import Entry


async def wait_for(queue: asyncio.Queue[Entry], kind: str, timeout: float = 5.0) -> Entry:
    """The next committed entry of ``kind`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            entry = await queue.get()
            if entry.kind == kind:
                return entry


async def wait_for_kinds(
    queue: asyncio.Queue[Entry],
    *kinds: str,
    match: Callable[[Entry], bool] = lambda _: True,
    timeout: float = 5.0,
) -> dict[str, Entry]:
    """The first committed entry of each of ``kinds`` that ``match`` accepts, in whatever
    order they commit (others are skipped)."""
    seen: dict[str, Entry] = {}
    async with asyncio.timeout(timeout):
        while len(seen) < len(kinds):
            entry = await queue.get()
            if entry.kind in kinds and match(entry):
                seen.setdefault(entry.kind, entry)
    return seen


@contextlib.asynccontextmanager
async def running(
    config: Config, clock: Clock = utc_now
) -> AsyncIterator[tuple[Daemon, asyncio.Queue[Entry]]]:
    """A started daemon (on ``clock``) and a queue of its journal entries as they commit."""
    daemon = Daemon(config, clock=clock)
    await daemon.start()
    events = daemon.journal.subscribe()
    try:
        yield daemon, events
    finally:
        await daemon.stop()
