"""One timer for every deadline on the site: work orders, patrol tours, fault grace times.

Owners ``set`` a key's next deadline (or None) with the callback to run when it passes.
The loop sleeps until the earliest deadline or until poked: no polling, so an idle site
costs no CPU between deadlines. Sleeps are capped (``cap_s``) so a wall-clock step (NTP)
is noticed; a fake clock in tests advances and then calls ``poke``.

Deadlines are wall-clock instants the owners recompute from stored times, so a restart
rebuilds the same schedule; the timeline itself holds nothing that must survive.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from datetime import datetime

import structlog

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
Fire = Callable[[datetime], None]
DEFAULT_CAP_S = 300.0


class Timeline:
    def __init__(self, clock: Clock, *, cap_s: float = DEFAULT_CAP_S) -> None:
        self.clock = clock
        self.cap_s = cap_s
        self._heap: list[tuple[datetime, int, Hashable]] = []
        self._due: dict[Hashable, tuple[datetime, Fire]] = {}
        self._order = itertools.count()
        self._wake = asyncio.Event()

    def armed(self, key: Hashable) -> datetime | None:
        current = self._due.get(key)
        return current[0] if current else None

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)

    def set(self, key: Hashable, when: datetime | None, fire: Fire) -> None:
        """Arm ``key`` for ``when`` (replacing its previous deadline); None disarms it."""
        if when is None:
            self.cancel(key)
            return
        current = self._due.get(key)
        if current is not None and current[0] == when:
            self._due[key] = (when, fire)
            return
        self._due[key] = (when, fire)
        heapq.heappush(self._heap, (when, next(self._order), key))
        if self._heap[0][2] == key:  # a new earliest deadline: re-arm the sleep
            self._wake.set()

    def __len__(self) -> int:
        return len(self._due)

    def next(self) -> datetime | None:
        """The earliest armed deadline (dropping stale heap entries)."""
        while self._heap:
            when, _, key = self._heap[0]
            current = self._due.get(key)
            if current is not None and current[0] == when:
                return when
            heapq.heappop(self._heap)
        return None

    def poke(self) -> None:
        """Look at the clock again now (after a fake clock moved, or a clock step)."""
        self._wake.set()

    def fire_due(self, now: datetime) -> int:
        """Run the callbacks of every deadline at or before ``now``; return how many ran."""
        count = 0
        while (when := self.next()) is not None and when <= now:
            _, _, key = heapq.heappop(self._heap)
            _, fire = self._due.pop(key)
            count += 1
            try:
                fire(now)
            except Exception:  # one owner's bug must not stop every other deadline
                log.exception("deadline_failed", key=str(key))
        return count

    async def run(self) -> None:
        """Sleep until the next deadline or a poke, fire what is due, forever."""
        while True:
            self.fire_due(self.clock())
            when = self.next()
            timeout = self.cap_s
            if when is not None:
                timeout = min(self.cap_s, max(0.0, (when - self.clock()).total_seconds()))
            self._wake.clear()
            if timeout > 0:
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass
