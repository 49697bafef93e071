"""A small compound for access tests: a gate with in/out readers and two doors."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from edgectl import tomlw
from edgectl.config import Config, load

READERS = {
    "r-gate-in": {"gate": "gate-main", "direction": "in"},
    "r-gate-out": {"gate": "gate-main", "direction": "out"},
    "r-lobby": {"door": "door-lobby", "direction": "in"},
    "r-exit": {"door": "door-exit", "direction": "out"},
}


def access_site(directory: Path, zone: str = "Asia/Shanghai", **access: Any) -> Config:
    """Write and load a site config; ``access`` goes into the [access] section."""
    data: dict[str, Any] = {
        "site": {"id": "test-site", "timezone": zone},
        "store": {"path": str(directory / "edgectl.db")},
        "daemon": {"control_socket": str(directory / "control.sock"), "log_level": "warning"},
        "buses": [{"id": "bus1", "port": str(directory / "bus1")}],
        "gates": [{"id": "gate-main", "bus": "bus1", "area": "compound"}],
        "doors": [
            {"id": "door-lobby", "area": "building", "unlock_s": 4.0},
            {"id": "door-exit", "area": "building", "egress": True, "fail_mode": "safe"},
        ],
        "readers": [
            {"id": rid, "port": str(directory / rid), **spec} for rid, spec in READERS.items()
        ],
        "access": access,
    }
    path = directory / "config.toml"
    path.write_text(tomlw.dumps(data))
    return load(path)


def write_cards_csv(
    path: Path, count: int, facility: int = 10, level: str = "", fmt: str = "h10301"
) -> Path:
    """``count`` residents, one card each in format ``fmt``, numbers 1..count."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["person_id", "name", "format", "facility", "number", "levels"])
        out.writerows(
            (f"p{n}", f"Person {n}", fmt, facility, n, level) for n in range(1, count + 1)
        )
    return path
