"""Run the real ``edgectl`` command line in a subprocess, as an installer would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def edgectl(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "edgectl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )


async def edgectl_async(
    *args: str, stdin: str | None = None, timeout: float = 120
) -> tuple[int, str]:
    """``edgectl ARGS`` without blocking the test's loop (where its simulated devices run):
    the exit code and stdout with stderr, on a terminal wide enough for tables not to wrap."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edgectl",
        *args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode()
