"""RTP payload for JPEG (RFC 2435), sender side: a baseline JPEG cut into RTP packets.

Pure functions, no I/O. ``split`` reads what RFC 2435 carries out of a JFIF file: the
type (0: 4:2:2, 1: 4:2:0), the size in 8-pixel blocks, the two 8-bit quantization tables
and the entropy-coded scan. ``packetize`` sends them as type 0/1 with Q = 255, so the
tables travel in-band in every frame (RFC 2435 section 3.1.8), cut at an MTU, with one
90 kHz timestamp per frame and the marker bit on its last packet. The receiver rebuilds
the headers with the standard Huffman tables, which is what libjpeg writes unless told to
optimise them (OpenCV does not by default).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PAYLOAD_TYPE = 26  # RTP/AVP static payload type for JPEG
CLOCK_HZ = 90_000
RTP_HEADER = 12
JPEG_HEADER = 8
QUANT_HEADER = 4
Q_INBAND = 255  # tables in every frame's first packet, never cached by the receiver
MAX_SIDE = 255 * 8

SOI, EOI, SOF0, DQT, DRI, SOS = 0xD8, 0xD9, 0xC0, 0xDB, 0xDD, 0xDA
STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length


class NotRfc2435(ValueError):
    """The JPEG cannot be carried by RFC 2435 types 0/1 (progressive, grey, odd size...)."""


@dataclass(frozen=True, slots=True)
class JpegParts:
    type: int  # 0: Y sampled 2x1 (4:2:2), 1: Y sampled 2x2 (4:2:0)
    width: int  # pixels, a multiple of 8
    height: int
    qtables: bytes  # luma then chroma table, 64 bytes each, zigzag order as in DQT
    scan: bytes  # entropy-coded data between the SOS header and EOI


def _tables(segment: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    i = 0
    while i < len(segment):
        precision, index = segment[i] >> 4, segment[i] & 0x0F
        if precision != 0:
            raise NotRfc2435("16-bit quantization tables")
        table = segment[i + 1 : i + 65]
        if len(table) != 64:
            raise NotRfc2435("truncated quantization table")
        out[index] = table
        i += 65
    return out


def _frame(segment: bytes) -> tuple[int, int, int, int, int]:
    """Type, width, height and the luma/chroma table indexes of an SOF0 segment."""
    if len(segment) != 15 or segment[0] != 8 or segment[5] != 3:
        raise NotRfc2435("expected an 8-bit, three-component frame")
    height, width = struct.unpack_from(">HH", segment, 1)
    (_, y_hv, y_q), (_, cb_hv, cb_q), (_, cr_hv, cr_q) = (
        segment[6 + 3 * k : 9 + 3 * k] for k in range(3)
    )
    types = {0x21: 0, 0x22: 1}
    if y_hv not in types or cb_hv != 0x11 or cr_hv != 0x11 or cb_q != cr_q:
        raise NotRfc2435(f"unsupported sampling {y_hv:#x}/{cb_hv:#x}/{cr_hv:#x}")
    if width % 8 or height % 8 or not 0 < width <= MAX_SIDE or not 0 < height <= MAX_SIDE:
        raise NotRfc2435(f"{width}x{height} is not a multiple of 8 up to {MAX_SIDE}")
    return types[y_hv], width, height, y_q, cb_q


def split(jpeg: bytes) -> JpegParts:
    """The parts of a baseline JFIF file that RFC 2435 carries; NotRfc2435 if it cannot."""
    if jpeg[:2] != b"\xff\xd8":
        raise NotRfc2435("no SOI marker")
    tables: dict[int, bytes] = {}
    frame: tuple[int, int, int, int, int] | None = None
    i = 2
    while i + 4 <= len(jpeg):
        if jpeg[i] != 0xFF:
            raise NotRfc2435(f"expected a marker at byte {i}")
        marker = jpeg[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in STANDALONE:
            i += 2
            continue
        (length,) = struct.unpack_from(">H", jpeg, i + 2)
        segment = jpeg[i + 4 : i + 2 + length]
        if length < 2 or len(segment) != length - 2:
            raise NotRfc2435(f"truncated segment {marker:#x}")
        i += 2 + length
        if marker == DQT:
            tables.update(_tables(segment))
        elif marker == DRI:
            if segment != b"\0\0":
                raise NotRfc2435("restart intervals (types 64-127) are not sent")
        elif 0xC1 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            raise NotRfc2435(f"not baseline (SOF{marker - 0xC0})")
        elif marker == SOF0:
            frame = _frame(segment)
        elif marker == SOS:
            if frame is None:
                raise NotRfc2435("SOS before SOF0")
            kind, width, height, luma, chroma = frame
            if luma not in tables or chroma not in tables:
                raise NotRfc2435("a quantization table the frame names is missing")
            end = jpeg.rfind(b"\xff\xd9")
            if end < i:
                raise NotRfc2435("no EOI marker after the scan")
            return JpegParts(kind, width, height, tables[luma] + tables[chroma], jpeg[i:end])
    raise NotRfc2435("no scan (SOS) found")


def packetize(jpeg: bytes, *, seq: int, timestamp: int, ssrc: int, mtu: int = 1400) -> list[bytes]:
    """One frame as RTP packets of at most ``mtu`` bytes, sequence numbers from ``seq``."""
    parts = split(jpeg)
    first_extra = QUANT_HEADER + len(parts.qtables)
    if mtu < RTP_HEADER + JPEG_HEADER + first_extra + 1:
        raise ValueError(f"MTU {mtu} cannot carry the first fragment")
    if len(parts.scan) >= 1 << 24:
        raise NotRfc2435("a scan of 16 MiB or more does not fit the 24-bit offset")
    packets: list[bytes] = []
    offset = 0
    while offset < len(parts.scan) or not packets:
        # type-specific (0) and the 24-bit fragment offset, then type, Q, width, height
        head = struct.pack(">I", offset) + bytes(
            (parts.type, Q_INBAND, parts.width // 8, parts.height // 8)
        )
        if offset == 0:
            head += struct.pack(">BBH", 0, 0, len(parts.qtables)) + parts.qtables
        room = mtu - RTP_HEADER - len(head)
        chunk = parts.scan[offset : offset + room]
        offset += len(chunk)
        last = offset >= len(parts.scan)
        rtp = struct.pack(
            ">BBHII",
            0x80,
            (0x80 if last else 0) | PAYLOAD_TYPE,
            (seq + len(packets)) & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc,
        )
        packets.append(rtp + head + chunk)
    return packets
