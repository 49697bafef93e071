"""sd_notify(3) over the NOTIFY_SOCKET datagram socket, with the watchdog keep-alive."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class Notifier:
    """Speaks to systemd when NOTIFY_SOCKET is set; does nothing otherwise."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET", "")
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() else 0.0
        pid = env.get("WATCHDOG_PID", "")
        if pid.isdigit() and int(pid) != os.getpid():
            self.watchdog_s = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, state: str) -> None:
        if not self.address:
            return
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect(address)
                sock.sendall(state.encode())
            except OSError:
                pass

    async def watchdog(self, problems: Callable[[], list[str]] = list) -> None:
        """Send WATCHDOG=1 at half the configured interval, until cancelled, but only while
        this loop turns and ``problems()`` finds none: then systemd restarts the process."""
        if not self.watchdog_s:
            return
        withheld: list[str] = []
        while True:
            found = problems()
            if not found:
                self.send("WATCHDOG=1")
            elif found != withheld:
                log.error("watchdog_withheld", problems=found)
                self.send("STATUS=unhealthy: " + "; ".join(found))
            withheld = found
            await asyncio.sleep(self.watchdog_s / 2)
