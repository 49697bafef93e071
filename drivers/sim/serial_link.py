"""A simulated RS-485 line that keeps real time, between a host port and a device port.

Two pseudo-terminals stand for the two ends of the cable: the driver opens ``host`` as it
would /dev/ttyUSB0, the simulated devices open ``device``. Every byte the link relays
occupies the line for ``bits_per_char / baud`` seconds (10 bits for 8N1), one frame at a
time, and a device's reply cannot start until ``turnaround_s`` after the request's last
byte. Bytes are delivered when their last bit would have arrived, so whatever runs on
the host end sees the timing of a real half-duplex bus, and benchmarks measure what a
real bus would do.

With ``record=True`` the link keeps a log of every burst: when its last byte left the
line, which side sent it, and the bytes.
"""

from __future__ import annotations

import asyncio
import os
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Side = Literal["host", "device"]


@dataclass(frozen=True, slots=True)
class Burst:
    end: float  # loop time (time.monotonic) of the last byte on the line
    side: Side
    data: bytes


@dataclass
class _End:
    master: int
    slave: int
    path: str


def _open_end(directory: Path | None, name: str) -> _End:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    path = os.ttyname(slave)
    if directory is not None:
        link = directory / name
        link.unlink(missing_ok=True)
        link.symlink_to(path)
        path = str(link)
    return _End(master, slave, path)


@dataclass
class SerialLink:
    """A paced line; ``await start()``, then open ``host`` and ``device``; ``close()`` after."""

    baud: int
    turnaround_s: float = 0.005
    bits_per_char: int = 10
    directory: Path | None = None
    name: str = "bus"
    record: bool = False
    bursts: list[Burst] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._host = _open_end(self.directory, f"{self.name}-host")
        self._device = _open_end(self.directory, f"{self.name}-dev")
        self._loop: asyncio.AbstractEventLoop | None = None
        self.line_free = 0.0  # when the line is next idle
        self.request_end = 0.0  # when the host's last burst ended

    @property
    def host(self) -> str:
        return self._host.path

    @property
    def device(self) -> str:
        return self._device.path

    @property
    def char_s(self) -> float:
        return self.bits_per_char / self.baud

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._host.master, self._relay, "host")
        self._loop.add_reader(self._device.master, self._relay, "device")

    def _relay(self, side: Side) -> None:
        loop = self._loop
        assert loop is not None
        src, dst = (self._host, self._device) if side == "host" else (self._device, self._host)
        try:
            data = os.read(src.master, 4096)
        except (BlockingIOError, OSError):
            return
        now = loop.time()
        start = max(now, self.line_free)
        if side == "device":
            start = max(start, self.request_end + self.turnaround_s)
        end = start + len(data) * self.char_s
        self.line_free = end
        if side == "host":
            self.request_end = end
        loop.call_at(end, self._deliver, dst.master, side, data, end)

    def _deliver(self, fd: int, side: Side, data: bytes, end: float) -> None:
        try:
            os.write(fd, data)
        except OSError:
            return  # nobody listening on that end: the bytes fall off the line
        if self.record:
            self.bursts.append(Burst(end, side, data))

    def close(self) -> None:
        for end in (self._host, self._device):
            if self._loop is not None:
                self._loop.remove_reader(end.master)
            for fd in (end.master, end.slave):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if self.directory is not None:
                Path(end.path).unlink(missing_ok=True)
