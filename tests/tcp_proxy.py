"""A TCP proxy on loopback that can reset the connections it carries: to break the daemon's
link to the broker at a chosen point (after so many bytes, or now)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field

from tests.conftest import free_port


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a broken network or a crashed peer does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class Proxy:
    upstream: int
    port: int = field(default_factory=free_port)
    cut_after: list[int] = field(default_factory=list)  # one byte count per new connection
    connections: int = 0
    cuts: int = 0
    _live: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def cut(self) -> None:
        """Reset every connection now."""
        for a, b in self._live:
            _reset(a)
            _reset(b)
        self.cuts += bool(self._live)
        self._live.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        limit = self.cut_after.pop(0) if self.cut_after else None
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            _reset(writer)
            return
        pair = (writer, up_writer)
        self._live.append(pair)
        moved = [0]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if limit is not None and moved[0] + len(data) >= limit:
                    dst.write(data[: max(0, limit - moved[0])])
                    self.cuts += 1
                    _reset(writer)
                    _reset(up_writer)
                    return
                moved[0] += len(data)
                dst.write(data)
                await dst.drain()

        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        with contextlib.suppress(ValueError):
            self._live.remove(pair)
        _reset(writer)
        _reset(up_writer)
