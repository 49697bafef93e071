"""``[commands]``: per-role rate limits and what each role may read, and who is admin on the
control socket. Defined here, composed by ``edgectl/config.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from edgectl.confload import Invalid


@dataclass(frozen=True, slots=True)
class RolePolicy:
    """One role's token bucket (``rate_per_s`` refill, ``burst`` size) and whether its
    replies show credential numbers in clear or as a keyed pseudonym."""

    rate_per_s: float
    burst: int
    credentials: Literal["clear", "pseudonym"] = "clear"

    def validate(self) -> None:
        if not 0 < self.rate_per_s <= 10_000:
            raise Invalid("rate_per_s", f"expected 0 < rate <= 10000, got {self.rate_per_s}")
        if not 1 <= self.burst <= 100_000:
            raise Invalid("burst", f"expected 1 to 100000, got {self.burst}")


@dataclass(frozen=True, slots=True)
class CommandSettings:
    viewer: RolePolicy = field(default_factory=lambda: RolePolicy(2.0, 10, "pseudonym"))
    guard: RolePolicy = field(default_factory=lambda: RolePolicy(10.0, 30))
    operator: RolePolicy = field(default_factory=lambda: RolePolicy(20.0, 60))
    admin: RolePolicy = field(default_factory=lambda: RolePolicy(50.0, 100))
    # Local callers on the control socket: root, the daemon's own user and members of this
    # group are admin; other local users need an [[operators]] entry "local:<user name>".
    local_admin_group: str = "edgectl"

    def policy(self, role: str) -> RolePolicy:
        return {
            "viewer": self.viewer,
            "guard": self.guard,
            "operator": self.operator,
            "admin": self.admin,
        }[role]
