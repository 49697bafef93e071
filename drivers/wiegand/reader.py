"""A Wiegand reader behind a serial Wiegand converter: frames in, CredentialPresented out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import serial_asyncio_fast
import structlog

from drivers.base import DeviceError, Emit, Health, SingleDevice
from drivers.wiegand import codec
from drivers.wiegand.line import (
    IDLE_GAP_S,
    Chunk,
    Discarded,
    Heartbeat,
    Keys,
    LineSplitter,
    encode_feedback,
    parse_line,
    shown,
)
from drivers.wiegand.settings import Reader
from edgectl.domain import (
    BadRead,
    Command,
    CredentialPresented,
    DeviceOnline,
    ReaderFeedback,
)
from edgectl.locks import lock_serial

log = structlog.get_logger(__name__)


class WiegandReaderDriver(SingleDevice):
    """Owns one converter's serial port and the reader behind it."""

    def __init__(self, reader: Reader) -> None:
        self.id = reader.id
        self.config = reader
        self.formats = codec.select(reader.formats)
        self._writer: asyncio.StreamWriter | None = None

    async def run(self, emit: Emit) -> None:
        try:
            reader, writer = await serial_asyncio_fast.open_serial_connection(
                url=self.config.port, baudrate=self.config.baud
            )
        except OSError as exc:
            self._health = Health(False, f"cannot open {self.config.port}: {exc.strerror}")
            raise DeviceError(self._health.detail) from exc
        try:
            lock_serial(writer.transport.serial.fd, self.config.port)  # type: ignore[attr-defined]
        except OSError as exc:
            writer.close()
            self._health = Health(False, str(exc))
            raise DeviceError(str(exc)) from exc
        self._writer = writer
        self._health = Health(True, self.config.port)
        emit(DeviceOnline(source=self.id, at=datetime.now(UTC)))
        lines = LineSplitter()
        try:
            while True:
                try:
                    async with asyncio.timeout(IDLE_GAP_S if lines.pending else None):
                        data = await reader.read(4096)
                except TimeoutError:
                    chunks = lines.idle()
                else:
                    if not data:
                        raise DeviceError(f"{self.config.port} closed")
                    chunks = lines.feed(data)
                for chunk in chunks:
                    self._on_chunk(chunk, emit)
        finally:
            self._writer = None
            self._health = Health(False, "stopped")
            writer.close()

    def _on_chunk(self, line: Chunk, emit: Emit) -> None:
        at = datetime.now(UTC)
        try:
            if isinstance(line, Discarded):
                raise codec.BadFrame(line.reason, line.detail)
            msg = parse_line(line)
            if isinstance(msg, Heartbeat):
                return
            if isinstance(msg, Keys):
                emit(
                    CredentialPresented(
                        source=self.id,
                        at=at,
                        format="pin",
                        facility=None,
                        number=0,
                        bits=0,
                        pin=msg.digits,
                    )
                )
                return
            card = codec.decode(msg.value, msg.bits, self.formats)
        except codec.BadFrame as exc:
            # never the parser's message: it may quote a keypad line's digits
            raw = line.sample if isinstance(line, Discarded) else line
            text = shown(raw)  # printable text; a keypad line shows only its length
            log.warning("bad_read", reader=self.id, reason=exc.reason, length=len(raw), line=text)
            emit(BadRead(source=self.id, at=at, reason=exc.reason, length=len(raw), line=text))
            return
        emit(
            CredentialPresented(
                source=self.id,
                at=at,
                format=card.format,
                facility=card.facility,
                number=card.number,
                bits=card.bits,
            )
        )

    async def execute(self, command: Command) -> None:
        if not isinstance(command, ReaderFeedback):
            raise DeviceError(f"reader {self.id} cannot {command.KIND}")
        if self._writer is None:
            raise DeviceError(f"reader {self.id} is offline")
        self._writer.write(encode_feedback(command.granted))
        await self._writer.drain()
