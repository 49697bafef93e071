"""Serial ports: present, usable by this user, and not held by another process."""

from __future__ import annotations

import os
from pathlib import Path

from edgectl.doctor import Check


def holders(port: str, proc: Path = Path("/proc")) -> list[tuple[int, str]]:
    """(pid, command) of every other process with ``port`` open, found through /proc/*/fd.

    A process that also holds a pty master (``/dev/ptmx``) is the provider of a
    pseudo-terminal port (socat in the simulator, a serial-over-IP bridge), not a competing
    user of it, and is left out.
    """
    real = os.path.realpath(port)
    found: list[tuple[int, str]] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            targets = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue  # gone, or not ours to look at
        if real in targets and "/dev/ptmx" not in targets:
            found.append((int(entry.name), comm))
    return found


def serial_port(owner: str, port: str, daemon_pid: int | None) -> Check:
    name = f"serial {owner}"
    real = os.path.realpath(port)
    if not os.path.exists(port):
        return Check(
            name,
            False,
            f"{port} does not exist (unplugged, or wrong by-id path?)",
            "ls -l /dev/serial/by-id/ and put the adapter's path in the config",
        )
    if not os.access(real, os.R_OK | os.W_OK):
        return Check(
            name,
            False,
            f"{port} not readable/writable by this user",
            "usermod -aG dialout edgectl (the unit adds dialout itself)",
        )
    others = [(pid, comm) for pid, comm in holders(port) if pid != daemon_pid]
    if others:
        who = ", ".join(f"pid {pid} ({comm})" for pid, comm in others)
        return Check(
            name,
            False,
            f"{port} is held by {who}; two programs on one bus garble each other's frames",
            f"stop it: kill {others[0][0]}",
        )
    held = " (held by the running daemon)" if daemon_pid else ""
    return Check(name, True, (port if real == port else f"{port} -> {real}") + held)
