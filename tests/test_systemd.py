"""The daemon as a systemd service: the unit verifies, sd_notify is spoken, SIGTERM is clean."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.sim.ptys import PtyPair
from edgectl import config as config_module
from edgectl.cli.service import unit_text
from tests.cli_helpers import REPO, edgectl
from tests.site import door_site


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "edgectl.service"
    unit.write_text(unit_text(sys.executable))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    text = unit.read_text()
    for needle in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "SupplementaryGroups=dialout",
        "StateDirectory=edgectl",
        "User=edgectl",
    ):
        assert needle in text


def test_service_install_into_a_root(tmp_path: Path) -> None:
    result = edgectl("service", "install", "--root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    unit = (tmp_path / "etc/systemd/system/edgectl.service").read_text()
    assert "ExecStart=" in unit and " run --config /etc/edgectl/config.toml" in unit
    config = tmp_path / "etc/edgectl/config.toml"
    text = config.read_text()
    # The store and socket live where the unit's StateDirectory and RuntimeDirectory put
    # them, never under /tmp (PrivateTmp=yes hides the daemon's /tmp from the CLI).
    assert 'path = "/var/lib/edgectl/edgectl.db"' in text
    assert 'control_socket = "/run/edgectl/control.sock"' in text
    assert "/tmp/edgectl-sim/edgectl.db" not in text
    assert config.stat().st_mode & 0o777 == 0o600  # it will hold the hub token
    assert config_module.load(config).store.path == "/var/lib/edgectl/edgectl.db"


def test_service_install_dry_run_shows_every_step_and_changes_nothing(tmp_path: Path) -> None:
    result = edgectl("service", "install", "--root", str(tmp_path), "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("would write") and "edgectl.service" in line for line in lines)
    assert any("config.toml (mode 0600" in line for line in lines)
    assert list(tmp_path.iterdir()) == []


def test_sd_notify_ready_watchdog_stopping_and_clean_sigterm(tmp_path: Path) -> None:
    daemon = {"control_socket": str(tmp_path / "control.sock"), "log_level": "info"}
    config, _ = door_site(tmp_path, {}, daemon=daemon)
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.settimeout(10)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgectl", "run", "--config", str(config)],
        cwd=REPO,
        env={
            "PYTHONPATH": str(REPO),
            "NOTIFY_SOCKET": str(notify),
            "WATCHDOG_USEC": "400000",
            "PATH": "/usr/bin:/bin",
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        messages = [sock.recv(4096).decode()]
        assert messages[0].startswith("READY=1")
        started = time.monotonic()
        while sum(m == "WATCHDOG=1" for m in messages) < 3:
            messages.append(sock.recv(4096).decode())
        assert time.monotonic() - started < 1.5  # every 200 ms, half of WATCHDOG_USEC
        proc.send_signal(signal.SIGTERM)
        while messages[-1] != "STOPPING=1":
            messages.append(sock.recv(4096).decode())
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        sock.close()
    logs = proc.stderr.read() if proc.stderr else ""
    assert '"event": "stopped"' in logs


async def _present_and_collect_feedback(device: str, n: int) -> int:
    from drivers.sim.wiegand_converter import SimWiegandConverter

    reader = SimWiegandConverter(device)
    try:
        for i in range(n):
            reader.present("h10301", 9, i)
        got = 0
        async with asyncio.timeout(10):
            while got < n:
                await reader.feedback.get()
                got += 1
        return got
    finally:
        reader.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_right_after_decisions_loses_none(
    tmp_path: Path, pty_pair: PtyPair, sig: int
) -> None:
    config, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgectl", "run", "--config", str(config)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(cfg.daemon.control_socket).exists():
            assert time.monotonic() < deadline, "daemon did not start"
            time.sleep(0.05)
        time.sleep(0.3)  # the reader driver opens its port
        decided = asyncio.run(_present_and_collect_feedback(pty_pair.device, 50))
        proc.send_signal(sig)  # at once: some decisions may not be committed yet
        assert proc.wait(10) == 0
    finally:
        proc.kill()
    conn = sqlite3.connect(cfg.store.path)
    rows = conn.execute("SELECT count(*) FROM journal WHERE kind = 'access_decided'").fetchone()
    assert rows[0] == decided == 50
