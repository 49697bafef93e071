"""Per-unit circuit breaker: a failing unit is tried ever more rarely, within a bus-time budget.

After every failed transaction the unit is held off long enough that the time its
failures cost stays under ``max_share`` of the bus (cost / (cost + hold-off) <= share);
once it is offline the hold-off also doubles per failure up to ``max_backoff_s``. The
first good reply closes the breaker. Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Breaker:
    offline_after: int = 3
    max_share: float = 0.05
    max_backoff_s: float = 30.0
    failures: int = 0
    online: bool | None = None  # None until the first reply or the first verdict
    open_until: float = 0.0
    backoff_s: float = 0.0

    def allows(self, now: float) -> bool:
        return now >= self.open_until

    def success(self) -> bool:
        """Record a good reply; True if this brings the unit (back) online."""
        came_online = self.online is not True
        self.failures = 0
        self.online = True
        self.open_until = 0.0
        self.backoff_s = 0.0
        return came_online

    def failure(self, now: float, cost_s: float) -> bool:
        """Record a failed transaction that took ``cost_s`` of bus time; True if now offline."""
        self.failures += 1
        budget = cost_s * (1.0 / self.max_share - 1.0)
        went_offline = self.failures >= self.offline_after and self.online is not False
        if self.failures >= self.offline_after:
            self.online = False
            self.backoff_s = min(self.max_backoff_s, max(budget, 2 * self.backoff_s))
        hold = max(budget, self.backoff_s)
        self.open_until = now + hold
        return went_offline
