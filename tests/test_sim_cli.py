"""``edgectl sim`` as a newcomer runs it, and the example config against its devices."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from tests.cli_helpers import REPO, edgectl

EXAMPLE_DIR = Path("/tmp/edgectl-sim")


def test_sim_with_duration_decides_cards_and_exits_0(tmp_path: Path) -> None:
    result = edgectl(
        "sim", "--duration", "4", "--interval", "0.4", "--dir", str(tmp_path), timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "access_decided" in result.stdout
    assert "granted=True" in result.stdout and "granted=False" in result.stdout
    assert "gate_state" in result.stdout
    assert "reason=parity" in result.stdout  # the damaged frame really is damaged
    assert (tmp_path / "edgectl.db").exists()


def _socat_for(directory: Path) -> list[int]:
    """Pids of live socat processes linking ptys in ``directory``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline[0].endswith(b"socat") and any(str(directory).encode() in a for a in cmdline):
            pids.append(int(proc.name))
    return pids


def test_present_without_a_running_sim_says_how_to_start_one(tmp_path: Path) -> None:
    result = edgectl("sim", "present", "--card", "12:1001", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "no simulated reader" in result.stdout
    assert "edgectl sim --devices-only" in result.stdout


def test_present_refuses_a_card_that_does_not_fit_its_format(tmp_path: Path) -> None:
    result = edgectl("sim", "present", "--card", "300:1001", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "does not fit" in result.stdout


def _wait(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_example_config_runs_against_sim_devices(tmp_path: Path) -> None:
    """`edgectl sim --devices-only` writes the example config pointed at its folder."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    devices = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgectl",
            "sim",
            "--devices-only",
            "--duration",
            "300",  # stopped by SIGTERM below; long enough for a loaded CI box
            "--dir",
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
        stdout=(tmp_path / "sim.out").open("w"),
    )
    config = tmp_path / "config.toml"
    daemon = None
    try:
        _wait(tmp_path / "bus-host")
        _wait(tmp_path / "reader-host")
        _wait(config)
        expected = (
            (REPO / "config.example.toml").read_text().replace(str(EXAMPLE_DIR), str(tmp_path))
        )
        written, wanted = tomllib.loads(config.read_text()), tomllib.loads(expected)
        # the simulated intercom listens on a free port outside the example's own folder
        assert written["intercoms"][0]["url"].startswith("http://127.0.0.1:")
        wanted["intercoms"][0]["url"] = written["intercoms"][0]["url"]
        assert written == wanted
        daemon = subprocess.Popen(
            [sys.executable, "-m", "edgectl", "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        _wait(tmp_path / "control.sock")
        deadline = time.monotonic() + 15
        seen: set[tuple[str, str]] = set()
        wanted_online = {
            ("device_online", "main-gate"),
            ("device_online", "main-gate-in"),
            ("device_online", "ped-intercom"),
        }
        while wanted_online - seen:
            assert time.monotonic() < deadline, seen
            time.sleep(0.2)
            out = edgectl("events", "tail", "--config", str(config), "-n", "50", "--json")
            seen = {(e["kind"], e["source"]) for e in map(json.loads, out.stdout.splitlines())}
        assert ("gate_state", "main-gate") in seen
        presented = edgectl("sim", "present", "--card", "12:4242", "--dir", str(tmp_path))
        assert presented.returncode == 0, presented.stdout + presented.stderr
        deadline = time.monotonic() + 15
        decided: list[dict[str, object]] = []
        while not decided:
            assert time.monotonic() < deadline, "the presented card was never decided"
            time.sleep(0.2)
            out = edgectl(
                "events", "tail", "--config", str(config), "-k", "access_decided", "--json"
            )
            decided = [json.loads(line)["body"] for line in out.stdout.splitlines()]
        assert decided[0]["credential"] == "h10301:12:4242"
        assert decided[0]["granted"] is False  # devices-only seeds no cards
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
        devices.send_signal(signal.SIGTERM)
        assert devices.wait(10) == 0
        assert _socat_for(tmp_path) == [], "sim --devices-only left socat behind on SIGTERM"
        # it told the installer how to present a card, with no checksum to compute
        assert "edgectl sim present --card 12:1001" in (tmp_path / "sim.out").read_text()
    finally:
        for proc in (daemon, devices):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
