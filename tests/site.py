"""Small site configs for tests, written as real TOML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgectl import tomlw
from edgectl.config import Config, load


def door_site(directory: Path, readers: dict[str, str], **sections: Any) -> tuple[Path, Config]:
    """A site with one door per reader (reader id -> serial port) and no buses."""
    data: dict[str, Any] = {
        "site": {"id": "test-site", "timezone": "Asia/Shanghai"},
        "store": {"path": str(directory / "edgectl.db")},
        "daemon": {"control_socket": str(directory / "control.sock"), "log_level": "warning"},
        "doors": [{"id": f"door-{rid}", "unlock_s": 4.0} for rid in readers],
        "readers": [
            {"id": rid, "port": port, "door": f"door-{rid}"} for rid, port in readers.items()
        ],
        **sections,
    }
    path = directory / "config.toml"
    path.write_text(tomlw.dumps(data))
    return path, load(path)
