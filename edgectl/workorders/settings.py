"""Work-order settings (``[workorders]``): deadlines per priority, escalation, fault orders."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from edgectl.confload import Invalid
from rules import workorders as rules


@dataclass(frozen=True, slots=True)
class PriorityDeadlines:
    """Seconds allowed per stage; ``follow_up_s`` counts from done, the rest from creation."""

    name: str
    accept_s: float = 900.0
    on_site_s: float = 900.0
    diagnose_s: float = 3600.0
    finish_s: float = 86400.0
    follow_up_s: float = 172800.0

    def validate(self) -> None:
        for key in ("accept_s", "on_site_s", "diagnose_s", "finish_s", "follow_up_s"):
            if getattr(self, key) <= 0:
                raise Invalid(key, f"expected seconds > 0, got {getattr(self, key)}")


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after_s: float  # after the deadline
    to: str  # assignee, supervisor, or a staff id


SERVICE = PriorityDeadlines("service")
EMERGENCY = PriorityDeadlines("emergency", 900.0, 1800.0, 3600.0, 14400.0, 86400.0)


@dataclass(frozen=True, slots=True)
class WorkOrders:
    fault_after_s: float = 300.0  # a unit offline this long opens an order
    reopen_window_s: float = 86400.0  # a fault repeating within this reopens its order
    fault_priority: str = "emergency"
    fault_role: str = "engineer"
    default_role: str = "butler"
    supervisor: str = ""
    priorities: tuple[PriorityDeadlines, ...] = (SERVICE, EMERGENCY)
    escalation: tuple[EscalationStep, ...] = (
        EscalationStep(0.0, "assignee"),
        EscalationStep(900.0, "supervisor"),
    )

    def validate(self) -> None:
        names = [p.name for p in self.priorities]
        if not names or len(set(names)) != len(names):
            raise Invalid("priorities", f"expected distinct priority names, got {names}")
        if self.fault_priority not in names:
            raise Invalid("fault_priority", f"expected one of {names}, got {self.fault_priority!r}")
        if self.fault_after_s < 0 or self.reopen_window_s < 0:
            raise Invalid("fault_after_s", "expected seconds >= 0")
        steps = [s.after_s for s in self.escalation]
        if steps != sorted(steps) or any(s < 0 for s in steps):
            raise Invalid("escalation", f"expected after_s rising from 0, got {steps}")

    @property
    def priority_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priorities)

    def policy(self) -> rules.Policy:
        deadlines = {
            p.name: rules.Deadlines(
                p.accept_s, p.on_site_s, p.diagnose_s, p.finish_s, p.follow_up_s
            )
            for p in self.priorities
        }
        steps = tuple(rules.Escalation(s.after_s, s.to) for s in self.escalation)
        return rules.Policy(MappingProxyType(deadlines), steps, self.supervisor)
