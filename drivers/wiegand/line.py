"""The serial Wiegand converter's line protocol (docs/wiegand-converter.md), sans I/O.

Converter to host, one ASCII line each, ending CR LF, with an NMEA-style checksum (XOR
of every byte between the type letter and ``*``, inclusive of the letter, as two hex
digits):

- ``W<bits>:<HEX>*CS``  a Wiegand frame; HEX holds the bits right-aligned, first bit MSB
- ``K<digits>#*CS``     keypad digits, ended by ``#``
- ``H*CS``              heartbeat

Host to converter: ``F1`` (granted: green LED, short beep), ``F0`` (denied: red LED,
long beep), each ending CR LF.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.wiegand.codec import MAX_BITS, BadFrame

MAX_LINE = 64


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
    if not colon or not count.isdigit() or not digits:
        raise BadFrame("framing", f"frame {body!r} is not <bits>:<hex>")
    bits = int(count)
    if not 1 <= bits <= MAX_BITS:
        raise BadFrame("bit_count", f"{bits} bits is outside 1-{MAX_BITS}")
    if len(digits) != (bits + 3) // 4:
        raise BadFrame("bit_count", f"{len(digits)} hex digits for {bits} bits")
    try:
        value = int(digits, 16)
    except ValueError:
        raise BadFrame("framing", f"frame data {digits!r} is not hex") from None
    return WiegandFrame(value, bits)
