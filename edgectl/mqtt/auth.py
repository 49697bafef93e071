"""The stale/replay window for MQTT requests.

A request is known by every id it carries: its MQTT 5 correlation data and its
``transaction`` field. Either one seen again from the same operator within the window is a
replay, so a console that regenerates correlation data on a retry cannot act twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta


def correlation_key(correlation: bytes | None) -> str | None:
    return f"correlation data {correlation.hex()}" if correlation else None


def transaction_key(transaction: str | None) -> str | None:
    return f"transaction {transaction!r}" if transaction else None


def request_keys(correlation: bytes | None, transaction: str | None) -> tuple[str, ...]:
    keys = (correlation_key(correlation), transaction_key(transaction))
    return tuple(k for k in keys if k)


class RequestWindow:
    """Refuses requests issued outside ``window`` of now, and ids seen within it.

    Ids are kept for twice the window (a request cannot be replayed while its
    ``issued_at`` would still pass the staleness check), however many there are: the
    bound is time, and the per-operator rate limits bound the count. Ids are added in
    time order, so expiry pops from the front and seeding is O(n).
    """

    def __init__(self, window_s: float) -> None:
        self.window = timedelta(seconds=window_s)
        self._seen: dict[tuple[str, str], datetime] = {}

    @property
    def horizon(self) -> timedelta:
        return 2 * self.window

    def __len__(self) -> int:
        return len(self._seen)

    def stale(self, issued_at: datetime, now: datetime) -> bool:
        return abs(now - issued_at) > self.window

    def replayed(self, operator: str, keys: Iterable[str], now: datetime) -> str | None:
        """The first of ``keys`` seen before, else None (and all of them are remembered)."""
        self._expire(now)
        keys = tuple(keys)
        for key in keys:
            if (operator, key) in self._seen:
                return key
        for key in keys:
            self._seen[(operator, key)] = now
        return None

    def remember(self, operator: str, keys: Iterable[str], seen_at: datetime) -> None:
        """Seed ids seen before a restart (from the journal), oldest first."""
        for key in keys:
            self._seen[(operator, key)] = seen_at

    def _expire(self, now: datetime) -> None:
        horizon = now - self.horizon
        while self._seen:
            key, seen = next(iter(self._seen.items()))
            if seen >= horizon:
                return
            del self._seen[key]
