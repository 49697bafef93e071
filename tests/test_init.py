"""``edgectl init`` on the simulated compound's ports: it scans the bus, finds the gate and
its profile, writes a private, valid config and runs the doctor on it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from edgectl.config import load
from edgectl.simulation import simulated_compound
from tests.cli_helpers import REPO, edgectl


async def init(*args: str, stdin: str | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edgectl",
        "init",
        *args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_non_interactive_init_finds_the_gate_and_writes_a_private_config(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site.toml"
    async with simulated_compound(tmp_path) as compound:
        code, out = await init(
            "--non-interactive",
            "--config", str(site),
            "--site-id", "riverside",
            "--timezone", "Asia/Shanghai",
            "--store", str(tmp_path / "site.db"),
            "--control-socket", str(tmp_path / "site.sock"),
            "--bus-port", compound.bus.host,
            "--reader-port", compound.reader_link.host,
            "--units", "1-4",
            "--hub-url", "http://127.0.0.1:9",
            "--hub-token", "t0ken",
        )  # fmt: skip
    assert code == 0, out
    assert "unit 1: came_zlb30" in out
    assert site.stat().st_mode & 0o777 == 0o600
    cfg = load(site)
    assert cfg.site.id == "riverside" and cfg.site.timezone == "Asia/Shanghai"
    assert [(g.id, g.unit, g.profile) for g in cfg.gates] == [("gate-1", 1, "came_zlb30")]
    assert cfg.readers[0].port == compound.reader_link.host
    assert cfg.readers[0].gate == "gate-1"
    assert cfg.hub.enabled and cfg.hub.token == "t0ken"
    assert not cfg.mqtt.enabled
    # ... and the doctor ran on it: the gate answered on its unit, the hub did not.
    assert "unit 1 answered: closed" in out
    assert "http://127.0.0.1:9 unreachable" in out


async def test_interactive_init_asks_and_writes(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    answers = "\n".join(["compound-7", "Europe/Berlin", "", "", ""]) + "\n"
    code, out = await init("--config", str(site), "--store", str(tmp_path / "db"), stdin=answers)
    assert code == 0, out
    assert "site id" in out and "time zone" in out
    cfg = load(site)
    assert cfg.site.id == "compound-7" and cfg.site.timezone == "Europe/Berlin"
    assert cfg.buses == () and not cfg.hub.enabled


def test_init_refuses_a_bad_zone_and_an_existing_config(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    args = ["init", "--non-interactive", "--config", str(site), "--site-id", "s1"]
    bad = edgectl(*args, "--timezone", "Mars/Olympus")
    assert bad.returncode == 2
    assert "unknown time zone 'Mars/Olympus'" in bad.stderr
    assert not site.exists()
    site.write_text("keep me")
    again = edgectl(*args, "--timezone", "UTC")
    assert again.returncode == 1
    assert "exists" in again.stderr and "--force" in again.stderr
    assert site.read_text() == "keep me"
