"""The simulated camera's RTSP 1.0 server (RFC 2326): the camera's frames as RTP/JPEG.

One asyncio Protocol per connection, framing in ``rtsp_wire`` and payload in
``rtp_jpeg``. Methods: OPTIONS, DESCRIBE (SDP, one video track of static payload type
26), SETUP, PLAY, GET_PARAMETER (keep-alive) and TEARDOWN; the CSeq is echoed and the
Session checked. A playing session whose client goes quiet (no request and no RTCP for
``session_timeout_s``) is closed, as cameras do.

Transport is RTP over the RTSP connection only (``RTP/AVP/TCP;interleaved=n-m``), what
clients on a site's network should use; a client asking for UDP gets 461 and falls back
to TCP (FFmpeg does). No RTCP is sent; RTCP that clients send is read and dropped. With a
``DigestGuard`` every request needs HTTP digest credentials (FFmpeg sends those of an
``rtsp://user:pass@`` URL).

A playing session sends the camera's current frame ``fps`` times a second, so the frame
source's modes (frozen, black...) show in the stream. ``fault`` breaks every playing
stream: ``stall`` sends nothing more, ``garbage`` sends random bytes instead of frames.
A client that does not read loses frames, never the camera's memory.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

from drivers.sim.digest_server import DigestGuard
from drivers.sim.rtp_jpeg import CLOCK_HZ, PAYLOAD_TYPE, packetize
from drivers.sim.rtsp_wire import BadRequest, Request, RequestReader, interleaved, response

StreamFault = Literal["stall", "garbage"] | None
METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "GET_PARAMETER", "TEARDOWN")
TRACK = "track1"
WRITE_BUFFER = 512 * 1024  # past this the client is not reading: frames are dropped


class RtspServer:
    def __init__(
        self,
        next_jpeg: Callable[[], bytes],
        *,
        guard: DigestGuard | None = None,
        path: str = "/stream",
        fps: float = 25.0,
        mtu: int = 1400,
    ) -> None:
        self.next_jpeg = next_jpeg
        self.guard = guard
        self.path = path
        self.fps = fps
        self.mtu = mtu
        self.fault: StreamFault = None
        # a playing session with no request (or RTCP) from its client this long is closed
        self.session_timeout_s = 60.0
        self.requests: list[str] = []  # methods received, in order
        self.port = 0
        self._server: asyncio.Server | None = None
        self.connections: set[RtspConnection] = set()  # open ones

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    @property
    def playing(self) -> int:
        """Sessions streaming now."""
        return sum(1 for c in self.connections if c.streaming)

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: RtspConnection(self), "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for connection in list(self.connections):
            connection.close()
        await self._server.wait_closed()
        self._server = None

    def sdp(self) -> bytes:
        return (
            "v=0\r\n"
            f"o=- {self.port} 1 IN IP4 127.0.0.1\r\n"
            "s=edgectl simulated camera\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "a=control:*\r\n"
            f"m=video 0 RTP/AVP {PAYLOAD_TYPE}\r\n"
            f"a=rtpmap:{PAYLOAD_TYPE} JPEG/{CLOCK_HZ}\r\n"
            f"a=framerate:{self.fps:g}\r\n"
            f"a=control:{TRACK}\r\n"
        ).encode()


def interleaved_channel(transport: str) -> int | None:
    """The first channel of a TCP-interleaved transport spec, None for anything else."""
    for spec in transport.split(","):
        fields = [f.strip() for f in spec.split(";")]
        if fields[0].upper() != "RTP/AVP/TCP":
            continue
        for item in fields[1:]:
            name, _, value = item.partition("=")
            first = value.partition("-")[0]
            if name.lower() == "interleaved" and first.isdigit() and int(first) < 255:
                return int(first)
        return 0
    return None


class RtspConnection(asyncio.Protocol):
    def __init__(self, server: RtspServer) -> None:
        self.server = server
        self.reader = RequestReader()
        self.transport: asyncio.Transport | None = None
        self.session = ""
        self.channel = 0
        self.ssrc = secrets.randbits(32)
        self._stream: asyncio.Task[None] | None = None
        self._writable = True
        self.last_heard = 0.0  # loop time of the client's last request or RTCP report

    @property
    def streaming(self) -> bool:
        return self._stream is not None and not self._stream.done()

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER)
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            items = self.reader.feed(data)
        except BadRequest as exc:
            self._send(response(exc.status, "0", {"Connection": "close"}))
            self.close()
            return
        if items:
            self.last_heard = asyncio.get_running_loop().time()
        for item in items:
            if isinstance(item, Request):  # interleaved RTCP from the client is dropped
                self._answer(item)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_stream()
        self.server.connections.discard(self)

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True

    def close(self) -> None:
        self._stop_stream()
        if self.transport is not None:
            self.transport.close()

    # --- requests --------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _answer(self, request: Request) -> None:
        self.server.requests.append(request.method)
        cseq = request.cseq
        if not cseq.isdigit():
            self._send(response(400, "0"))
            return
        guard = self.server.guard
        if guard is not None:
            challenge = guard.verdict(
                request.method, (request.uri,), request.headers.get("authorization", "")
            )
            if challenge is not None:
                self._send(response(401, cseq, {"WWW-Authenticate": challenge}))
                return
        if request.method not in METHODS:
            self._send(response(501, cseq, {"Public": ", ".join(METHODS)}))
            return
        if request.method not in ("OPTIONS", "DESCRIBE", "SETUP"):
            sent = request.headers.get("session", "").partition(";")[0].strip()
            if not self.session or sent != self.session:
                self._send(response(454, cseq))
                return
        handler = getattr(self, f"_{request.method.lower()}")
        status, headers, body = handler(request)
        self._send(response(status, cseq, headers, body))

    def _path(self, request: Request) -> str:
        try:
            return urlsplit(request.uri).path.rstrip("/")
        except ValueError:  # e.g. a broken IPv6 host: no path of ours
            return ""

    def _options(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Public": ", ".join(METHODS)}, b""

    def _describe(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if self._path(request) != self.server.path:
            return 404, {}, b""
        headers = {"Content-Base": f"{self.server.url}/", "Content-Type": "application/sdp"}
        return 200, headers, self.server.sdp()

    def _setup(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if self._path(request) not in (f"{self.server.path}/{TRACK}", self.server.path):
            return 404, {}, b""
        channel = interleaved_channel(request.headers.get("transport", ""))
        if channel is None:
            return 461, {}, b""  # UDP and multicast are not offered: only TCP
        self.channel = channel
        self.session = self.session or secrets.token_hex(8)
        transport = f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1};ssrc={self.ssrc:08X}"
        return 200, {"Transport": transport, "Session": self._session_header()}, b""

    def _play(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if not self.streaming:
            self._stream = asyncio.get_running_loop().create_task(self._send_frames())
        return 200, {"Session": self._session_header(), "Range": "npt=0.000-"}, b""

    def _get_parameter(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Session": self._session_header()}, b""

    def _teardown(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        self._stop_stream()
        self.session = ""
        return 200, {}, b""

    def _session_header(self) -> str:
        return f"{self.session};timeout={max(1, round(self.server.session_timeout_s))}"

    # --- the stream ------------------------------------------------------------------

    def _stop_stream(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    async def _send_frames(self) -> None:
        loop = asyncio.get_running_loop()
        seq, rtp_time0, started = secrets.randbits(16), secrets.randbits(32), loop.time()
        interval, tick = 1.0 / self.server.fps, started
        while self.transport is not None and not self.transport.is_closing():
            if loop.time() - self.last_heard > self.server.session_timeout_s:
                self.close()  # the client went quiet: its session expired
                return
            fault = self.server.fault
            if fault == "garbage":
                self._send(os.urandom(1500))
            elif fault is None and self._writable:
                stamp = rtp_time0 + int((loop.time() - started) * CLOCK_HZ)
                packets = packetize(
                    self.server.next_jpeg(),
                    seq=seq,
                    timestamp=stamp,
                    ssrc=self.ssrc,
                    mtu=self.server.mtu,
                )
                seq = (seq + len(packets)) & 0xFFFF
                self._send(b"".join(interleaved(self.channel, p) for p in packets))
            tick = max(tick + interval, loop.time())  # late: skip frames, never burst
            await asyncio.sleep(tick - loop.time())
