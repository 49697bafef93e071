"""The one backoff: exponential with jitter, used by every retry loop (the supervisor, the
sync client, the MQTT connection, the journal's commit retry)."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff", "backoff_delay"]


def backoff_delay(
    failures: int, base: float, cap: float, rnd: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d], d = min(cap, base * 2^(n-1))."""
    span = min(cap, base * 2 ** min(max(failures - 1, 0), 62))
    return float(span / 2 + rnd() * span / 2)


class Backoff:
    """Counts consecutive failures: ``next()`` after each, ``reset()`` after a success."""

    def __init__(self, base: float, cap: float, rnd: Callable[[], float] = random.random) -> None:
        self.base, self.cap, self.rnd = base, cap, rnd
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next(self) -> float:
        """The delay before the next attempt, one failure more than last time."""
        self.failures += 1
        return backoff_delay(self.failures, self.base, self.cap, self.rnd)
