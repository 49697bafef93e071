"""Logs as journald shows them: under systemd's journal stream, plain lines with a syslog
priority prefix; on any other pipe, JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.cli_helpers import REPO

SCRIPT = (
    "import structlog\n"
    "from edgectl import logs\n"
    "logs.setup('info')\n"
    "log = structlog.get_logger()\n"
    "log.warning('device_offline', device='main-gate', error='timeout')\n"
    "log.info('started', site='s1')\n"
    "log.error('sync_failed', error='line one\\nline two')\n"
)


def _run_with_stderr_pipe(journal: bool) -> str:
    read_end, write_end = os.pipe()
    st = os.fstat(write_end)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("JOURNAL_STREAM", None)
    if journal:
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], stderr=write_end, env=env, timeout=60, check=True
    )
    assert proc.returncode == 0
    os.close(write_end)
    with os.fdopen(read_end) as f:
        return f.read()


def test_journald_lines_carry_the_syslog_priority() -> None:
    lines = _run_with_stderr_pipe(journal=True).splitlines()
    assert lines == [
        "<4>device_offline device=main-gate error=timeout",
        "<6>started site=s1",
        "<3>sync_failed error=line one\\nline two",
    ]


def test_other_pipes_get_json_lines() -> None:
    lines = _run_with_stderr_pipe(journal=False).splitlines()
    first = json.loads(lines[0])
    assert first["event"] == "device_offline"
    assert first["level"] == "warning"
    assert first["timestamp"].endswith("Z")
