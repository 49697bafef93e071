"""Linked pseudo-terminal pairs made by socat: a device end and a host end, both with paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PtyPair:
    device: str  # the simulated device opens this end
    host: str  # the daemon opens this end, as it would /dev/ttyUSB0
    proc: subprocess.Popen[bytes]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def make_pty_pair(directory: Path, name: str = "pty") -> PtyPair:
    """Start socat linking two ptys, named ``<name>-dev`` and ``<name>-host`` in ``directory``."""
    exe = shutil.which("socat")
    if exe is None:
        raise FileNotFoundError("socat is not installed (apt-get install socat)")
    device = str(directory / f"{name}-dev")
    host = str(directory / f"{name}-host")
    proc = subprocess.Popen(
        [exe, f"pty,raw,echo=0,link={device}", f"pty,raw,echo=0,link={host}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while not (os.path.exists(device) and os.path.exists(host)):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise TimeoutError("socat did not create the pty pair")
        time.sleep(0.01)
    return PtyPair(device, host, proc)
