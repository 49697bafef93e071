"""The serial Wiegand converter's line protocol (docs/wiegand-converter.md), sans I/O.

Converter to host, one ASCII line each, ending CR LF, with an NMEA-style checksum (XOR
of every byte between the type letter and ``*``, inclusive of the letter, as two hex
digits):

- ``W<bits>:<HEX>*CS``  a Wiegand frame; HEX holds the bits right-aligned, first bit MSB
- ``K<digits>#*CS``     keypad digits, ended by ``#``
- ``H*CS``              heartbeat

Host to converter: ``F1`` (granted: green LED, short beep), ``F0`` (denied: red LED,
long beep), each ending CR LF.

``LineSplitter`` cuts the byte stream into lines. A line break is CR, LF or both. A line
starts at a ``W``, ``K`` or ``H`` (the only bytes that can start one): noise before it is
dropped with the line. Input past ``MAX_LINE`` is discarded as ``overlong`` while it is
read, up to the next line break, so memory stays bounded and the line after it counts.
The reader calls ``idle()`` after a gap in the input: a partial line then is dropped, and
the next line starts fresh. One bad line so costs one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.wiegand.codec import MAX_BITS, BadFrame

MAX_LINE = 64
IDLE_GAP_S = 0.1  # a converter sends a line in one burst (~40 ms at 9600 baud)
SAMPLE = 16  # bytes of a discarded line kept for its bad_read event
_BREAK = re.compile(rb"[\r\n]")
_START = re.compile(rb"[WKH]")
_HEX = frozenset("0123456789ABCDEF")


@dataclass(frozen=True, slots=True)
class WiegandFrame:
    value: int
    bits: int


@dataclass(frozen=True, slots=True)
class Keys:
    digits: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


Message = WiegandFrame | Keys | Heartbeat


@dataclass(frozen=True, slots=True)
class Discarded:
    """Input that was not a line: ``reason`` is ``overlong`` or ``framing``."""

    reason: str
    detail: str
    sample: bytes


Chunk = bytes | Discarded


class LineSplitter:
    """Cuts a converter's byte stream into lines; see the module docstring."""

    def __init__(self) -> None:
        self._buf = bytearray()  # the line so far, from its W/K/H
        self._noise = 0  # bytes dropped before a line start since the last break
        self._sample = b""
        self._discarding = False  # an overlong line: drop up to the next break

    @property
    def pending(self) -> bool:
        """Whether a partial line (or noise) waits for its line break."""
        return bool(self._buf or self._noise or self._discarding)

    def feed(self, data: bytes) -> list[Chunk]:
        out: list[Chunk] = []
        pos = 0
        while pos <= len(data):
            brk = _BREAK.search(data, pos)
            end = brk.start() if brk else len(data)
            self._take(data[pos:end], out)
            if brk is None:
                break
            self._end_line(out)
            pos = brk.end()
        return out

    def idle(self) -> list[Chunk]:
        """The line has gone quiet: drop what was read of an unfinished line."""
        out: list[Chunk] = []
        if self._buf:
            out.append(Discarded("framing", "partial line, then silence", bytes(self._buf)))
            self._reset()
        else:
            self._end_line(out)
        return out

    def _take(self, part: bytes, out: list[Chunk]) -> None:
        if self._discarding or not part:
            return
        if not self._buf:
            start = _START.search(part)
            skip = start.start() if start else len(part)
            if skip:
                self._sample = (self._sample + part[:skip])[:SAMPLE]
                self._noise += skip
                part = part[skip:]
        self._buf += part
        if len(self._buf) + self._noise > MAX_LINE:
            sample = (self._sample + bytes(self._buf))[:SAMPLE]
            out.append(Discarded("overlong", f"more than {MAX_LINE} bytes in a line", sample))
            self._reset()
            self._discarding = True

    def _end_line(self, out: list[Chunk]) -> None:
        if self._noise and self._sample.strip(b"\0 \t"):
            out.append(Discarded("framing", "no W, K or H at the start of a line", self._sample))
        if self._buf and not self._discarding:
            out.append(bytes(self._buf))
        self._reset()

    def _reset(self) -> None:
        self._buf.clear()
        self._noise = 0
        self._sample = b""
        self._discarding = False


def checksum(payload: bytes) -> int:
    cs = 0
    for b in payload:
        cs ^= b
    return cs


def _with_checksum(payload: str) -> bytes:
    data = payload.encode("ascii")
    return data + b"*%02X\r\n" % checksum(data)


def encode_frame(value: int, bits: int) -> bytes:
    return _with_checksum(f"W{bits}:{value:0{(bits + 3) // 4}X}")


def encode_keys(digits: str) -> bytes:
    return _with_checksum(f"K{digits}#")


def encode_feedback(granted: bool) -> bytes:
    return b"F1\r\n" if granted else b"F0\r\n"


def shown(line: bytes) -> str:
    """A received line as text for logs and ``bad_read``: printable ASCII as is, any other
    byte as ``\\xNN``. A keypad line (``K...``) never shows its keys: only its length."""
    if line[:1] == b"K":
        return f"K<{len(line) - 1} bytes hidden>"
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in line)


def parse_line(line: bytes) -> Message:
    """Parse one line (without CR LF). Raise BadFrame naming what is wrong."""
    if len(line) > MAX_LINE:
        raise BadFrame("overlong", f"line of {len(line)} bytes exceeds {MAX_LINE}")
    payload, star, cs_text = line.partition(b"*")
    if not star:
        raise BadFrame("framing", f"no checksum in {line!r}")
    if cs_text != b"%02X" % checksum(payload):
        raise BadFrame("checksum", f"checksum {cs_text!r} does not match {payload!r}")
    kind, body = payload[:1], payload[1:].decode("ascii", "replace")
    if kind == b"W":
        return _parse_frame(body)
    if kind == b"K":
        if not body.endswith("#") or not body[:-1].isdigit() or len(body) > 17:
            raise BadFrame("framing", f"keypad entry {body!r} is not digits ended by '#'")
        return Keys(body[:-1])
    if kind == b"H" and not body:
        return Heartbeat()
    raise BadFrame("framing", f"unknown message {payload!r}")


def _parse_frame(body: str) -> WiegandFrame:
    count, colon, digits = body.partition(":")
    if not colon or not count.isdigit() or not digits or not set(digits) <= _HEX:
        raise BadFrame("framing", f"frame {body!r} is not <bits>:<upper-case hex>")
    bits = int(count)
    if not 1 <= bits <= MAX_BITS:
        raise BadFrame("bit_count", f"{bits} bits is outside 1-{MAX_BITS}")
    if len(digits) != (bits + 3) // 4:
        raise BadFrame("bit_count", f"{len(digits)} hex digits for {bits} bits")
    return WiegandFrame(int(digits, 16), bits)
