"""A token bucket per operator, sized by role; the first refusal of a burst is reported,
the rest of that burst is dropped silently (so a flood costs one reply, not one each)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Admission(Enum):
    ADMIT = "admit"
    REFUSE_AND_SAY = "refuse_and_say"  # first refusal of a burst: answer ``rate_limited``
    DROP = "drop"  # already told in this burst


@dataclass(slots=True)
class Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    at: float  # monotonic seconds of the last update
    told: bool = False

    def take(self, now: float) -> Admission:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.told = False
            return Admission.ADMIT
        if self.told:
            return Admission.DROP
        self.told = True
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
