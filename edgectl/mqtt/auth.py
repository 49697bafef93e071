"""Who may do what: the site's role table, and the stale/replay window for requests."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from enum import IntEnum

from edgectl.config import Operator


class Role(IntEnum):
    """Roles are ordered: each one may do everything the ones below it may."""

    VIEWER = 1
    GUARD = 2
    OPERATOR = 3
    ADMIN = 4


class RoleTable:
    def __init__(self, operators: tuple[Operator, ...]) -> None:
        self._roles = {op.id: Role[op.role.upper()] for op in operators}

    def role(self, operator: str) -> Role | None:
        return self._roles.get(operator)

    def allows(self, operator: str, needed: Role) -> bool:
        role = self._roles.get(operator)
        return role is not None and role >= needed


def request_key(correlation: bytes | None, transaction: str | None) -> str | None:
    """How a request is known for replay checks: MQTT 5 correlation data, else transaction."""
    if correlation:
        return f"correlation data {correlation.hex()}"
    if transaction:
        return f"transaction {transaction!r}"
    return None


class RequestWindow:
    """Refuses requests issued outside ``window`` of now, and ids seen within it.

    Ids are remembered for twice the window, so a request cannot be replayed while its
    ``issued_at`` would still pass the staleness check. Memory is bounded by the request
    rate over that span.
    """

    def __init__(self, window_s: float) -> None:
        self.window = timedelta(seconds=window_s)
        self._seen: OrderedDict[tuple[str, str], datetime] = OrderedDict()

    def stale(self, issued_at: datetime, now: datetime) -> bool:
        return abs(now - issued_at) > self.window

    def replayed(self, operator: str, request_id: str, now: datetime) -> bool:
        """True if seen before; otherwise remember it. Call only for fresh requests."""
        self._expire(now)
        key = (operator, request_id)
        if key in self._seen:
            return True
        self._seen[key] = now
        return False

    def remember(self, operator: str, request_id: str, seen_at: datetime) -> None:
        """Seed an id seen before a restart (from the journal), so it stays refused."""
        self._seen[(operator, request_id)] = seen_at
        self._seen = OrderedDict(sorted(self._seen.items(), key=lambda kv: kv[1]))

    def _expire(self, now: datetime) -> None:
        horizon = now - 2 * self.window
        while self._seen:
            key, seen = next(iter(self._seen.items()))
            if seen >= horizon:
                return
            del self._seen[key]
