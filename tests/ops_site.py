"""A site for work-order and patrol tests: a fake clock the tests move, and a daemon on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edgectl import tomlw
from edgectl.config import Config, load
from edgectl.daemon import Daemon
from edgectl.store.db import connect
from edgectl.store.journal import Entry, last_entries
from tests.daemon_helpers import running, wait_for

ROSTER = [
    {"staff": "butler-li", "role": "butler"},
    {"staff": "eng-wang", "role": "engineer"},
    {"staff": "guard-zhao", "role": "guard"},
]
WORKORDERS = {
    "supervisor": "sup-chen",
    "fault_after_s": 60.0,
    "escalation": [{"after_s": 0.0, "to": "assignee"}, {"after_s": 600.0, "to": "supervisor"}],
}
ROUTE = {
    "id": "night",
    "ordered": True,
    "max_duration_s": 1800.0,
    "max_silence_s": 600.0,
    "late_s": 120.0,
    "start": ["operator", "badge", "schedule"],
    "times": ["02:30"],
    "checkpoints": [
        {"id": "tag-1", "latest_s": 300.0},
        {"id": "tag-2", "earliest_s": 300.0, "latest_s": 900.0},
        {"id": "tag-3", "earliest_s": 600.0, "latest_s": 1200.0},
    ],
}


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def ops_site(directory: Path, zone: str = "Europe/Berlin", **sections: Any) -> Config:
    data: dict[str, Any] = {
        "site": {"id": "ops-site", "timezone": zone},
        "store": {"path": str(directory / "edgectl.db")},
        "daemon": {"control_socket": str(directory / "control.sock"), "log_level": "warning"},
        "roster": ROSTER,
        "workorders": WORKORDERS,
        "patrol": {"fault_after": 2, "seed": 3, "routes": [ROUTE]},
        **sections,
    }
    path = directory / "config.toml"
    path.write_text(tomlw.dumps(data))
    return load(path)


def daemon_at(config: Config, clock: FakeClock) -> Any:
    """A started daemon on ``clock`` and a queue of its committed journal entries."""
    return running(config, clock)


async def tick(daemon: Daemon, clock: FakeClock, **delta: float) -> None:
    """Move the fake clock and let the daemon's timeline look at it."""
    clock.advance(**delta)
    daemon.operations.timeline.poke()


def journal(config: Config, *kinds: str) -> list[Entry]:
    conn = connect(config.store.path, readonly=True)
    try:
        return last_entries(conn, 10000, kinds)
    finally:
        conn.close()


__all__ = ["FakeClock", "daemon_at", "journal", "ops_site", "tick", "wait_for"]
