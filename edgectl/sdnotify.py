"""sd_notify(3) over the NOTIFY_SOCKET datagram socket, with the watchdog keep-alive."""

from __future__ import annotations

import asyncio
import os
import socket


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

    async def watchdog(self) -> None:
        """Send WATCHDOG=1 at half the configured interval, until cancelled."""
        if not self.watchdog_s:
            return
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_s / 2)
