"""A simulated serial Wiegand converter: writes real protocol lines to a pty."""

from __future__ import annotations

import asyncio
import os
import termios
import tty

from drivers.wiegand import codec
from drivers.wiegand.line import encode_frame, encode_keys


def card_line(format_name: str, facility: int | None, number: int) -> bytes:
    """The converter's line for a card of ``format_name`` (raises ValueError if it can't be)."""
    fmt = codec.builtin_formats()[format_name]
    return encode_frame(codec.encode(fmt, facility, number), fmt.bits)


class SimWiegandConverter:
    """The device end of a reader's serial link. Present cards; read back feedback."""

    def __init__(self, device_path: str) -> None:
        self.fd = os.open(device_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            tty.setraw(self.fd, termios.TCSANOW)
        except termios.error:
            pass
        self.feedback: asyncio.Queue[bool] = asyncio.Queue()
        self._buf = b""
        asyncio.get_running_loop().add_reader(self.fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.fd, 256)
        except BlockingIOError:
            return
        except OSError:
            asyncio.get_running_loop().remove_reader(self.fd)
            return
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            if line.strip() in (b"F1", b"F0"):
                self.feedback.put_nowait(line.strip() == b"F1")

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    async def write_all(self, data: bytes) -> None:
        """Write ``data`` however long, waiting while the pty is full."""
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self.fd, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(self.fd)

    def present(self, format_name: str, facility: int | None, number: int) -> bytes:
        line = card_line(format_name, facility, number)
        self.write(line)
        return line

    def keys(self, digits: str) -> bytes:
        line = encode_keys(digits)
        self.write(line)
        return line

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)
