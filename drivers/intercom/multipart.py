"""A sans-I/O parser for ``multipart/mixed`` and ``multipart/x-mixed-replace`` event streams.

Hikvision's ``alertStream`` and Dahua's ``eventManager.cgi?action=attach`` push events as an
endless multipart body. Feed it bytes as they arrive; it hands back each complete part. It
never holds more than one part (``max_part`` bytes) plus one header block: a part that grows
past ``max_part`` is skipped while it streams past (reported as ``Skipped``), so a 10 MB part
or a body without any boundary cannot exhaust memory or stall the events behind it.

A part ends at its ``Content-Length`` when it declares one (so it is handed over as soon as
its last byte arrives, not when the next part's delimiter does, which on an idle stream is
the next heartbeat, seconds later), or else at the next delimiter line (``--boundary`` at
the start of a line). A declared length never swallows a delimiter: a truncated part ends
where the next one begins. A declared length over ``max_part`` skips the part at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, auto

MAX_HEADER_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Part:
    """One complete part: header names in lower case, the body without its delimiter."""

    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Skipped:
    """A part that was not kept: ``too_large`` (over max_part) or ``bad_headers``."""

    reason: str
    size: int


class _State(Enum):
    PREAMBLE = auto()
    HEADERS = auto()
    BODY = auto()
    DISCARD = auto()


def boundary_of(content_type: str) -> str | None:
    """The ``boundary`` parameter of a Content-Type header, unquoted, or None."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip().strip('"')
            return value or None
    return None


class MultipartParser:
    def __init__(self, boundary: str, max_part: int, max_header: int = MAX_HEADER_BYTES) -> None:
        if not boundary:
            raise ValueError("boundary: expected a non-empty string")
        dash = b"--" + boundary.encode("latin-1")  # RFC 2046: the value as given
        self._first = dash  # the very first delimiter may open the stream without a newline
        self._delim = b"\n" + dash
        self.max_part = max_part
        self.max_header = max_header
        self._buf = bytearray()
        self._state = _State.PREAMBLE
        self._headers: dict[str, str] = {}
        self._length: int | None = None
        self._skipped = 0
        self._skip_reason = ""

    @property
    def buffered(self) -> int:
        """Bytes held right now (bounded by max_part + max_header + the delimiter)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Part | Skipped]:
        self._buf += data
        out: list[Part | Skipped] = []
        while self._step(out):
            pass
        return out

    def _step(self, out: list[Part | Skipped]) -> bool:
        """Advance one state; False when more bytes are needed."""
        if self._state is _State.PREAMBLE:
            return self._preamble()
        if self._state is _State.HEADERS:
            return self._read_headers(out)
        if self._state is _State.BODY:
            return self._read_body(out)
        return self._discard(out)

    def _after_delimiter(self, end: int) -> bool:
        """Drop the delimiter line (its transport padding or a closing ``--``)."""
        nl = self._buf.find(b"\n", end)
        if nl < 0:
            return False
        del self._buf[: nl + 1]
        self._state = _State.HEADERS
        return True

    def _preamble(self) -> bool:
        if self._buf.startswith(self._first):
            return self._after_delimiter(len(self._first))
        at = self._buf.find(self._delim)
        if at < 0:
            keep = len(self._delim) - 1  # a delimiter may straddle two feeds
            if len(self._buf) > keep:
                del self._buf[: len(self._buf) - keep]
            return False
        return self._after_delimiter(at + len(self._delim))

    def _read_headers(self, out: list[Part | Skipped]) -> bool:
        end, sep = _blank_line(self._buf)
        if end < 0:
            if len(self._buf) > self.max_header:
                self._start_discard("bad_headers", 0)
                return True
            return False
        headers: dict[str, str] = {}
        for line in bytes(self._buf[:end]).split(b"\n"):
            name, colon, value = line.decode("latin-1").strip().partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        del self._buf[: end + sep]
        self._headers = headers
        declared = headers.get("content-length", "")
        self._length = int(declared) if declared.isdigit() else None
        if self._length is not None and self._length > self.max_part:
            self._start_discard("too_large", 0)
        else:
            self._state = _State.BODY
        return True

    def _read_body(self, out: list[Part | Skipped]) -> bool:
        at = self._buf.find(self._delim)
        n = self._length
        if n is not None and len(self._buf) >= n and not 0 <= at < n:
            out.append(Part(self._headers, bytes(self._buf[:n])))
            del self._buf[:n]
            self._state = _State.PREAMBLE  # the CRLF and the next delimiter line follow
            return True
        if at < 0:
            if len(self._buf) > self.max_part + len(self._delim):
                self._start_discard("too_large", 0)
                return True
            return False
        if self._buf.find(b"\n", at + len(self._delim)) < 0:
            return False  # the delimiter line is not complete yet
        body = bytes(self._buf[:at]).removesuffix(b"\r")
        if len(body) > self.max_part:
            out.append(Skipped("too_large", len(body)))
        else:
            out.append(Part(self._headers, body))
        return self._after_delimiter(at + len(self._delim))

    def _start_discard(self, reason: str, size: int) -> None:
        self._state = _State.DISCARD
        self._skip_reason = reason
        self._skipped = size

    def _discard(self, out: list[Part | Skipped]) -> bool:
        at = self._buf.find(self._delim)
        if at < 0:
            keep = len(self._delim) - 1
            drop = max(0, len(self._buf) - keep)
            self._skipped += drop
            del self._buf[:drop]
            return False
        if self._buf.find(b"\n", at + len(self._delim)) < 0:
            return False
        out.append(Skipped(self._skip_reason, self._skipped + at))
        return self._after_delimiter(at + len(self._delim))


def _blank_line(buf: bytearray) -> tuple[int, int]:
    """Index and length of the first blank line (CRLF CRLF or LF LF), or (-1, 0)."""
    if buf.startswith(b"\r\n"):  # a part without headers
        return 0, 2
    if buf.startswith(b"\n"):
        return 0, 1
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0
