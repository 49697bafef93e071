"""The receiving side of RTSP and RTP/JPEG, written for the tests from RFC 2326 and 2435.

Independent of ``drivers/sim/rtsp*.py`` and ``rtp_jpeg.py`` (which send), so a test that
passes means a sender and a receiver agree: ``depacketize`` checks one frame's packets
and ``rebuild`` makes a JFIF file from them again, with the standard Huffman tables.
``RtspClient`` speaks RTSP over one TCP connection with digest auth, as a camera client.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import struct
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Frame:
    type: int
    width: int
    height: int
    qtables: bytes
    scan: bytes
    timestamp: int


def depacketize(packets: list[bytes]) -> Frame:
    """One frame from its RTP packets, checking RFC 3550 and RFC 2435 as it goes."""
    scan = bytearray()
    first_seq = struct.unpack_from(">H", packets[0], 2)[0]
    stamp = struct.unpack_from(">I", packets[0], 4)[0]
    qtables = b""
    kind = width = height = -1
    for n, packet in enumerate(packets):
        vpxcc, mpt, seq, ts = struct.unpack_from(">BBHI", packet)
        assert vpxcc == 0x80, "RTP version 2, no padding, extension or CSRC"
        assert mpt & 0x7F == 26, "payload type 26 (JPEG)"
        assert bool(mpt & 0x80) == (n == len(packets) - 1), "marker on the last packet only"
        assert seq == (first_seq + n) & 0xFFFF and ts == stamp
        body = packet[12:]
        offset = struct.unpack_from(">I", body)[0] & 0xFFFFFF
        kind, q, width, height = body[4], body[5], body[6] * 8, body[7] * 8
        assert offset == len(scan), "fragments in order, no gaps"
        assert kind in (0, 1) and q == 255
        body = body[8:]
        if offset == 0:
            mbz, precision, length = struct.unpack_from(">BBH", body)
            assert mbz == 0 and precision == 0 and length == 128
            qtables, body = body[4 : 4 + length], body[4 + length :]
        scan += body
    return Frame(kind, width, height, qtables, bytes(scan), stamp)


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def _standard_huffman_tables() -> bytes:
    """The DHT segments libjpeg writes when not optimising: JPEG Annex K's tables."""
    ok, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok
    data, out, i = bytes(buf.tobytes()), b"", 2
    while data[i + 1] != 0xDA:
        length = struct.unpack_from(">H", data, i + 2)[0]
        if data[i + 1] == 0xC4:
            out += data[i : i + 2 + length]
        i += 2 + length
    return out


HUFFMAN = _standard_huffman_tables()


def rebuild(frame: Frame) -> bytes:
    """A JFIF file from an RFC 2435 frame (the receiver's job, section 3.1 and appendix A)."""
    dqt = b"\x00" + frame.qtables[:64] + b"\x01" + frame.qtables[64:]
    sampling = 0x21 if frame.type == 0 else 0x22
    sof = struct.pack(">BHHB", 8, frame.height, frame.width, 3) + bytes(
        (1, sampling, 0, 2, 0x11, 1, 3, 0x11, 1)
    )
    sos = bytes((3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0))
    return (
        b"\xff\xd8"
        + _segment(0xDB, dqt)
        + _segment(0xC0, sof)
        + HUFFMAN
        + _segment(0xDA, sos)
        + frame.scan
        + b"\xff\xd9"
    )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _params(header: str) -> dict[str, str]:
    out = {}
    for item in header.split(" ", 1)[1].split(","):
        key, _, value = item.strip().partition("=")
        out[key] = value.strip('"')
    return out


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class RtspClient:
    """RTSP over one connection; RTP that arrives interleaved is kept by channel."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.cseq = 0
        self.session = ""
        self.user = self.password = ""
        self._challenge: dict[str, str] = {}
        self.rtp: list[bytes] = []

    @classmethod
    async def connect(cls, port: int, user: str = "", password: str = "") -> RtspClient:
        client = cls(*await asyncio.open_connection("127.0.0.1", port))
        client.user, client.password = user, password
        return client

    def _authorization(self, method: str, uri: str) -> str:
        c = self._challenge
        cnonce = secrets.token_hex(8)
        ha1 = _md5(f"{self.user}:{c['realm']}:{self.password}")
        response = _md5(f"{ha1}:{c['nonce']}:00000001:{cnonce}:auth:{_md5(f'{method}:{uri}')}")
        return (
            f'Digest username="{self.user}", realm="{c["realm"]}", nonce="{c["nonce"]}", '
            f'uri="{uri}", response="{response}", qop=auth, nc=00000001, cnonce="{cnonce}"'
        )

    async def request(self, method: str, uri: str, headers: dict[str, str] | None = None) -> Reply:
        """Send one request (answering a digest challenge once) and read its reply."""
        for _ in range(2):
            self.cseq += 1
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}"]
            lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
            if self.session:
                lines.append(f"Session: {self.session}")
            if self._challenge and self.user:
                lines.append(f"Authorization: {self._authorization(method, uri)}")
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            reply = await self.reply()
            assert reply.headers["cseq"] == str(self.cseq)
            if reply.status != 401 or not self.user or self._challenge:
                return reply
            self._challenge = _params(reply.headers["www-authenticate"])
        return reply

    async def reply(self) -> Reply:
        """The next RTSP reply; interleaved RTP before it is kept in ``rtp``."""
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":
                channel, length = struct.unpack(">BH", await self.reader.readexactly(3))
                data = await self.reader.readexactly(length)
                if channel == 0:
                    self.rtp.append(data)
                continue
            head = first + await self.reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode().strip().split("\r\n")
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", 0)))
            return Reply(int(status_line.split(" ")[1]), headers, body)

    async def frame(self) -> list[bytes]:
        """The packets of the next whole frame on channel 0."""
        packets: list[bytes] = []
        while True:
            if not self.rtp:
                channel = -1
                while channel != 0:
                    assert await self.reader.readexactly(1) == b"$"
                    channel, length = struct.unpack(">BH", await self.reader.readexactly(3))
                    data = await self.reader.readexactly(length)
                self.rtp.append(data)
            packet = self.rtp.pop(0)
            if not packets and struct.unpack_from(">I", packet, 12)[0] & 0xFFFFFF:
                continue  # the middle of a frame: wait for the next one's start
            packets.append(packet)
            if packet[1] & 0x80:
                return packets

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
