"""The daemon as a systemd service: the unit verifies, sd_notify is spoken, SIGTERM is clean."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    assert (tmp_path / "etc/edgectl/config.toml").read_text() == (
        REPO / "config.example.toml"
    ).read_text()


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
