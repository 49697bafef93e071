"""A token bucket per operator, sized by role. The first refusal is answered; further
refusals within ``TELL_EVERY_S`` are dropped silently, so a flood costs one reply every
few seconds, not one reply (or journal row) each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

TELL_EVERY_S = 10.0


class Admission(Enum):
    ADMIT = "admit"
    REFUSE_AND_SAY = "refuse_and_say"  # answer ``rate_limited`` (not journaled)
    DROP = "drop"  # told less than TELL_EVERY_S ago


@dataclass(slots=True)
class Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    at: float  # monotonic seconds of the last update
    told_at: float | None = None  # when the last refusal was answered

    def take(self, now: float) -> Admission:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return Admission.ADMIT
        if self.told_at is not None and now - self.told_at < TELL_EVERY_S:
            return Admission.DROP
        self.told_at = now
        return Admission.REFUSE_AND_SAY


class RateLimiter:
    """Buckets per key, each created full; ``limits(key)`` gives (rate, burst)."""

    MAX_KEYS = 10_000  # unknown ids share one bucket beyond this (see ``take``)

    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: str, rate: float, burst: int, now: float) -> Admission:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_KEYS:
                key = "*"
                bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = Bucket(rate, burst, float(burst), now)
        return bucket.take(now)
