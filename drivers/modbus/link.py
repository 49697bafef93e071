"""The wire under a bus: one request at a time, framed, timed and classified.

``RtuLink`` speaks Modbus RTU on a serial port; it keeps the inter-frame gap before each
request and gives each reply exactly as long as the line settings say it can take.
``TcpLink`` speaks Modbus TCP (MBAP) to a TCP gate or an RS-485-to-Ethernet gateway.

A link raises ``LinkError`` when the port itself fails (unplugged, refused, closed); the
owning driver lets that escape so the supervisor restarts it. Anything wrong with one
reply raises a ``FrameError`` naming the fault; after one, the link waits for the line
to go quiet so a late or noisy reply cannot leak into the next transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import cast

import serial_asyncio_fast

from drivers.modbus.frames import (
    FrameError,
    ReplyTimeout,
    Request,
    Truncated,
    parse_rtu_reply,
    parse_tcp_reply,
    rtu_frame,
    tcp_frame,
)
from drivers.modbus.timing import LineTiming
from edgectl.locks import lock_serial, unlock_serial

SPIN_S = 0.001  # the end of a gap is waited out by yielding, not by a timer


class LinkError(Exception):
    """The port or connection itself failed."""


class _Wire(asyncio.Protocol):
    """Collects received bytes and wakes the waiting transaction."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.arrived = asyncio.Event()
        self.last_rx = 0.0
        self.lost: str | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.last_rx = time.monotonic()
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = str(exc) if exc else "connection closed"
        self.arrived.set()


class _StreamLink:
    """Shared request/reply loop; subclasses supply opening, framing and the gap."""

    def __init__(self, name: str, timing: LineTiming) -> None:
        self.name = name
        self.timing = timing
        self.wire: _Wire | None = None
        self.free_at = 0.0  # monotonic time the line may carry the next request

    async def _connect(self) -> _Wire:
        raise NotImplementedError

    def _frame(self, request: Request) -> bytes:
        raise NotImplementedError

    def _parse(self, buf: bytes, request: Request) -> bytes | None:
        raise NotImplementedError

    def _reply_len(self, request: Request) -> int:
        return request.rtu_reply_len

    @property
    def gap_s(self) -> float:
        return self.timing.gap_s

    async def open(self) -> None:
        try:
            self.wire = await self._connect()
        except (OSError, ValueError) as exc:
            raise LinkError(f"{self.name}: cannot open: {exc}") from exc

    def close(self) -> None:
        if self.wire and self.wire.transport:
            serial = getattr(self.wire.transport, "serial", None)
            if serial is not None and serial.fd is not None:
                unlock_serial(serial.fd)  # the fd itself closes on a later loop turn
            self.wire.transport.close()
        self.wire = None

    def _live_wire(self) -> _Wire:
        wire = self.wire
        if wire is None or wire.transport is None:
            raise LinkError(f"{self.name}: not open")
        if wire.lost is not None:
            raise LinkError(f"{self.name}: {wire.lost}")
        return wire

    async def wait_free(self) -> None:
        """Wait out the inter-frame gap after the last frame on the line.

        asyncio timers wake up to ~1 ms late (epoll rounds its timeout up to whole
        milliseconds), a quarter of a gap at 9,600 baud. So sleep until just short of
        the end of the gap, then yield to the loop until it has passed: the last
        millisecond costs a little CPU but never blocks another task.
        """
        delay = self.free_at - time.monotonic()
        if delay > SPIN_S:
            await asyncio.sleep(delay - SPIN_S)
        while time.monotonic() < self.free_at:
            await asyncio.sleep(0)

    async def transact(self, request: Request) -> bytes:
        """Send ``request`` and return the reply PDU; raise FrameError or LinkError."""
        wire = self._live_wire()
        await self.wait_free()
        wire.buf.clear()
        frame = self._frame(request)
        try:
            wire.transport.write(frame)  # type: ignore[union-attr]
        except OSError as exc:
            raise LinkError(f"{self.name}: write failed: {exc}") from exc
        sent = time.monotonic()
        deadline = sent + self.timing.timeout_s(len(frame), self._reply_len(request))
        try:
            return await self._await_reply(wire, request, deadline)
        except FrameError:
            await self._settle(wire, deadline)
            raise
        finally:
            self.free_at = max(wire.last_rx, sent) + self.gap_s

    async def _await_reply(self, wire: _Wire, request: Request, deadline: float) -> bytes:
        while True:
            self._live_wire()
            pdu = self._parse(bytes(wire.buf), request)
            if pdu is not None:
                return pdu
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if wire.buf:
                    raise Truncated(f"{len(wire.buf)} bytes of an incomplete reply")
                raise ReplyTimeout(f"no reply from unit {request.unit}")
            wire.arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await wire.arrived.wait()

    async def _settle(self, wire: _Wire, deadline: float) -> None:
        """After a bad reply, wait (until ``deadline`` at most) for the line to fall quiet."""
        while time.monotonic() < deadline:
            wire.arrived.clear()
            try:
                async with asyncio.timeout(self.gap_s):
                    await wire.arrived.wait()
            except TimeoutError:
                break
            if wire.lost is not None:
                break
        wire.buf.clear()


class RtuLink(_StreamLink):
    """Modbus RTU over a serial port (by path, e.g. /dev/serial/by-id/...)."""

    def __init__(self, port: str, timing: LineTiming) -> None:
        super().__init__(port, timing)
        self.port = port

    async def _connect(self) -> _Wire:
        loop = asyncio.get_running_loop()
        t = self.timing
        transport, protocol = await serial_asyncio_fast.create_serial_connection(
            loop,
            _Wire,
            self.port,
            baudrate=t.baud,
            bytesize=t.bytesize,
            parity=t.parity,
            stopbits=t.stopbits,
        )
        wire = cast(_Wire, protocol)
        serial = transport.serial
        assert serial is not None and serial.fd is not None  # an open port has both
        try:
            lock_serial(serial.fd, self.port)  # one owner per bus, across processes
        except OSError:
            transport.close()
            raise
        wire.transport = transport  # connection_made may not have run yet
        return wire

    def _frame(self, request: Request) -> bytes:
        return rtu_frame(request.unit, request.pdu())

    def _parse(self, buf: bytes, request: Request) -> bytes | None:
        return parse_rtu_reply(buf, request.unit, request.function)


class TcpLink(_StreamLink):
    """Modbus TCP to a gate or a serial gateway at ``host:port``."""

    def __init__(self, host: str, port: int, timing: LineTiming) -> None:
        super().__init__(f"{host}:{port}", timing)
        self.host, self.port = host, port
        self.tid = 0

    @property
    def gap_s(self) -> float:
        return 0.0

    async def _connect(self) -> _Wire:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(5.0):
            transport, wire = await loop.create_connection(_Wire, self.host, self.port)
        wire.transport = transport
        return wire

    def _frame(self, request: Request) -> bytes:
        self.tid = (self.tid + 1) & 0xFFFF
        return tcp_frame(self.tid, request.unit, request.pdu())

    def _parse(self, buf: bytes, request: Request) -> bytes | None:
        return parse_tcp_reply(buf, self.tid, request.unit, request.function)
