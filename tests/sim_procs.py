"""Long-running ``edgectl`` processes for CLI tests: the simulated devices, the daemon, and
a command whose output is read line by line while it runs."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.cli_helpers import REPO


def wait_path(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@dataclass(frozen=True)
class Edgectl:
    """How to run ``edgectl``: from this checkout (default) or from an installed ``bin``."""

    command: tuple[str, ...] = (sys.executable, "-m", "edgectl")
    cwd: Path = REPO
    env: dict[str, str] = field(
        default_factory=lambda: {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"}
    )

    @classmethod
    def installed(cls, bin_dir: Path, cwd: Path) -> Edgectl:
        """The ``edgectl`` of a venv, run outside the checkout with no PYTHONPATH."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EDGECTL_CONFIG")}
        return cls((str(bin_dir / "edgectl"),), cwd, env | {"COLUMNS": "100"})

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.cwd,
            env=self.env,
        )


class Proc:
    """A running ``edgectl``; ``expect`` waits for a line (stdout or stderr) holding text."""

    def __init__(self, *args: str, edgectl: Edgectl | None = None) -> None:
        ed = edgectl or Edgectl()
        self.popen = subprocess.Popen(
            [*ed.command, *args],
            cwd=ed.cwd,
            env=ed.env | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        for stream in (self.popen.stdout, self.popen.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        for line in self.seen:
            if text in line:
                return line
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; saw {self.seen}"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line

    def wait(self, timeout: float = 20) -> int:
        code = self.popen.wait(timeout)
        time.sleep(0.1)  # let the pumps take the last lines
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.wait()


@contextmanager
def running(*args: str, edgectl: Edgectl | None = None) -> Iterator[Proc]:
    proc = Proc(*args, edgectl=edgectl)
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def sim_devices(directory: Path, edgectl: Edgectl | None = None) -> Iterator[Path]:
    """``sim --devices-only`` in ``directory``; yields its config path."""
    with running("sim", "--devices-only", "--dir", str(directory), edgectl=edgectl):
        for name in ("bus-host", "reader-host", "config.toml"):
            wait_path(directory / name)
        yield directory / "config.toml"
