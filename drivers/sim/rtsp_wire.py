"""RTSP 1.0 (RFC 2326) framing, server side, sans-I/O.

``RequestReader.feed(bytes)`` returns what the client sent, in order: requests (request
line, headers, optional body) and interleaved binary frames (``$``, channel, 16-bit
length; RFC 2326 section 10.12), which is how a client sends RTCP reports on the RTSP
connection when it streams over TCP. Anything malformed or oversized raises
``BadRequest`` with the status to answer. ``response`` formats a reply and
``interleaved`` a binary frame.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

TOKEN = re.compile(r"[A-Za-z_-]+")
MAX_HEAD = 8192
MAX_BODY = 65536
VERSION = "RTSP/1.0"
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    501: "Not Implemented",
    505: "RTSP Version Not Supported",
}


class BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status} {REASONS.get(status, '')}: {detail}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    uri: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes = b""

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "")


@dataclass(frozen=True, slots=True)
class Interleaved:
    channel: int
    data: bytes


def _request(head: bytes, body: bytes) -> Request:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "the request is not UTF-8") from None
    line, *rest = text.split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise BadRequest(400, f"bad request line {line[:80]!r}")
    method, uri, version = parts
    if version != VERSION:
        raise BadRequest(505, f"{version[:20]!r}")
    headers: dict[str, str] = {}
    for item in rest:
        name, sep, value = item.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, f"bad header line {item[:80]!r}")
        headers[name.lower()] = value.strip()
    return Request(method, uri, headers, body)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            if not value.strip().isdigit():
                raise BadRequest(400, "bad Content-Length")
            length = int(value)
            if length > MAX_BODY:
                raise BadRequest(400, f"a body of {length} bytes is over {MAX_BODY}")
            return length
    return 0


class RequestReader:
    """Bytes in, requests and interleaved frames out; keeps what is not complete yet."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Request | Interleaved]:
        self._buffer += data
        out: list[Request | Interleaved] = []
        while self._buffer:
            if self._buffer.startswith(b"\r\n"):  # empty lines between messages
                del self._buffer[:2]
                continue
            if self._buffer[0] == 0x24:  # '$': an interleaved binary frame
                if len(self._buffer) < 4:
                    break
                channel, length = struct.unpack_from(">BH", self._buffer, 1)
                if len(self._buffer) < 4 + length:
                    break
                out.append(Interleaved(channel, bytes(self._buffer[4 : 4 + length])))
                del self._buffer[: 4 + length]
                continue
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise BadRequest(400, f"no end of headers in {MAX_HEAD} bytes")
                break
            if end > MAX_HEAD:
                raise BadRequest(400, f"headers over {MAX_HEAD} bytes")
            head = bytes(self._buffer[:end])
            length = _content_length(head)
            if len(self._buffer) < end + 4 + length:
                break
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            out.append(_request(head, body))
        return out


def response(
    status: int, cseq: str, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{VERSION} {status} {REASONS.get(status, 'Unknown')}", f"CSeq: {cseq}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def interleaved(channel: int, data: bytes) -> bytes:
    return struct.pack(">cBH", b"$", channel, len(data)) + data
