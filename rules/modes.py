"""Site modes and what entering or leaving them does to doors and gates. Pure.

Emergency (fire, evacuation) releases every gate, egress door and fail-safe door and
overrides every other rule while it lasts. Lockdown denies everyone but the security roles
(see ``rules.access``) and relocks any door held open.
"""

from __future__ import annotations

from edgectl.domain import Command, HoldRelay, OpenGate
from rules.policy import SitePolicy


def emergency_effects(policy: SitePolicy, on: bool) -> tuple[Command, ...]:
    """Open gates and hold released doors unlocked; on leaving, lock those doors again."""
    effects: list[Command] = []
    for target in policy.targets.values():
        if not target.released_in_emergency:
            continue
        if target.kind == "gate":
            if on:
                effects.append(OpenGate(target=target.id))
        else:
            effects.append(HoldRelay(target=target.id, on=on))
    return tuple(effects)


def lockdown_effects(policy: SitePolicy, on: bool) -> tuple[Command, ...]:
    """Entering lockdown relocks every door; leaving it changes nothing by itself."""
    if not on:
        return ()
    return tuple(
        HoldRelay(target=t.id, on=False) for t in policy.targets.values() if t.kind == "door"
    )
