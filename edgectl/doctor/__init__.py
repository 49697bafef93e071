"""``edgectl doctor``'s checks: each names one problem and the fix for it.

The checks read the config, the files, the ports, the gates, the broker and the hub the way
the daemon would, and never change anything.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # a failed optional check is a warning, not a failure

    @classmethod
    def disabled(cls, name: str, section: str) -> Check:
        return cls(name, True, f"disabled ([{section}] enabled = false)")
