"""One timer per key at a pure state machine's next deadline (doors, intercom calls)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime


class Deadlines:
    def __init__(self, clock: Callable[[], datetime], fire: Callable[[str], None]) -> None:
        self.clock = clock
        self.fire = fire
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def arm(self, key: str, when: datetime | None) -> None:
        """Call ``fire(key)`` at ``when`` (replacing the key's timer); None only cancels."""
        timer = self._timers.pop(key, None)
        if timer:
            timer.cancel()
        if when is not None:
            delay = max(0.0, (when - self.clock()).total_seconds())
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.fire(key)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
