"""One timer per key at a pure state machine's next deadline (doors, intercom calls).

A step that fails must not kill its timer silently: it is logged, reported to
``on_failure`` (the daemon's background supervisor, which journals it and says when to try
again) and tried again after the delay it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

# (task name, error, where) -> seconds until the next try; Supervisor.failed fits
OnFailure = Callable[[str, str, str], float]

log = structlog.get_logger(__name__)


class Deadlines:
    def __init__(
        self, name: str, clock: Callable[[], datetime], fire: Callable[[str], None]
    ) -> None:
        self.name = name  # "door", "intercom": names the failing task
        self.clock = clock
        self.fire = fire
        self.on_failure: OnFailure = lambda name, error, where: 1.0
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def arm(self, key: str, when: datetime | None) -> None:
        """Call ``fire(key)`` at ``when`` (replacing the key's timer); None only cancels."""
        if when is None:
            self._cancel(key)
        else:
            self._later(key, max(0.0, (when - self.clock()).total_seconds()))

    def _later(self, key: str, delay: float) -> None:
        self._cancel(key)
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._fire, key)

    def _cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer:
            timer.cancel()

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        try:
            self.fire(key)
        except Exception as exc:  # a timer must not die silently: report it, try again
            log.exception(f"{self.name}_timer_failed", key=key)
            error = f"{type(exc).__name__}: {exc}"
            self._later(key, self.on_failure(f"{self.name}:{key}", error, ""))

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
