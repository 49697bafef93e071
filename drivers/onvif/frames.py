"""Getting a frame: the snapshot URI over HTTP (digest auth), or a warm RTSP stream with OpenCV.

A snapshot is read in chunks and refused as soon as it passes the size limit, so a
50 MB answer never sits in memory; it must look like a JPEG (SOI at the start, EOI at
the end). OpenCV blocks, so the stream is read on its own thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import cv2
import numpy as np

from drivers.onvif.session import describe
from edgectl.store.evidence import is_jpeg

RETRY_S, RETRY_MAX_S = 1.0, 30.0  # a stream that will not open is retried this often
# Opening takes the RTSP dialogue, a first key frame and FFmpeg's probing, which reads 20
# frames to learn the frame rate of an RTP stream (0.8 s at 25 fps): a bound of its own.
OPEN_S = 15.0

Refusal = Literal["not_jpeg", "too_large", "http_error", "auth", "timeout", "unreachable"]


class FrameRefused(Exception):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class SnapshotClient:
    """HTTP snapshots from one camera, digest (or basic) auth, bounded size and time."""

    def __init__(self, user: str, password: str, max_bytes: int, timeout_s: float) -> None:
        middlewares = (aiohttp.DigestAuthMiddleware(user, password),) if user else ()
        self.http = aiohttp.ClientSession(
            middlewares=middlewares, timeout=aiohttp.ClientTimeout(total=timeout_s)
        )
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def get(self, uri: str) -> bytes:
        try:
            async with asyncio.timeout(self.timeout_s), self.http.get(uri) as response:
                if response.status == 401:
                    raise FrameRefused("auth", "the camera refused our credentials")
                if response.status >= 300:
                    raise FrameRefused("http_error", f"HTTP {response.status}")
                if (response.content_length or 0) > self.max_bytes:
                    raise FrameRefused(
                        "too_large", f"{response.content_length} bytes > {self.max_bytes}"
                    )
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise FrameRefused("too_large", f"more than {self.max_bytes} bytes")
        except TimeoutError:
            raise FrameRefused("timeout", f"no complete frame in {self.timeout_s}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise FrameRefused("unreachable", describe(exc)) from None
        if not is_jpeg(bytes(data)):
            raise FrameRefused("not_jpeg", f"{len(data)} bytes that are not a JPEG")
        return bytes(data)

    async def close(self) -> None:
        await self.http.close()


def with_credentials(uri: str, username: str, password: str) -> str:
    """``uri`` with percent-encoded credentials for FFmpeg, unless it has some already.

    Cameras answer GetStreamUri without credentials and ask for digest (or basic) auth on
    RTSP; FFmpeg takes them from the URL only. The result is never logged.
    """
    parts = urlsplit(uri)
    if not username or "@" in parts.netloc or parts.scheme.lower() not in ("rtsp", "rtsps"):
        return uri
    userinfo = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


class WarmStream:
    """Keeps an OpenCV capture open and reading on a thread; ``latest`` is the newest frame.

    Only for cameras without a snapshot URI (or ``grab = "stream"``): a warm stream costs
    a decoder and a connection all the time, but gives a frame with no connect delay.
    OpenCV's FFmpeg backend asks for RTP over the RTSP connection (TCP interleaved) unless
    ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` says otherwise. Reading gives up after ``timeout_s``
    and opening after ``OPEN_S``, so a stalled or garbled stream ends in a reconnect, with
    backoff (a wrong password must not lock the camera's account), and a frame request in
    a clear refusal.
    """

    def __init__(
        self, uri: str, username: str = "", password: str = "", timeout_s: float = 5.0
    ) -> None:
        self.uri = uri  # as the camera gave it, without our credentials: safe to show
        self._source = with_credentials(uri, username, password)
        self.timeout_s = timeout_s
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream:{self.uri}", daemon=True)
        self._thread.start()

    def _open(self) -> cv2.VideoCapture:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(max(OPEN_S, self.timeout_s) * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.timeout_s * 1000),
        ]
        return cv2.VideoCapture(self._source, cv2.CAP_FFMPEG, params)

    def _run(self) -> None:
        retry_s = RETRY_S
        while not self._stop.is_set():
            capture = self._open()
            if not capture.isOpened():
                self.error = "the stream did not open (unreachable, refused or not decodable)"
            while capture.isOpened() and not self._stop.is_set():
                ok, frame = capture.read()
                if not ok:
                    self.error = (
                        f"the stream broke off (closed, or no decodable frame in {self.timeout_s}s)"
                    )
                    break
                with self._lock:
                    self._frame, self._seq = frame, self._seq + 1
                self.error, retry_s = "", RETRY_S
            capture.release()
            self._stop.wait(retry_s)
            retry_s = min(retry_s * 2, RETRY_MAX_S)

    def latest(self) -> tuple[int, np.ndarray | None]:
        with self._lock:
            return self._seq, self._frame

    async def jpeg(self, timeout_s: float, quality: int = 85) -> bytes:
        """A frame newer than the one current at the call, as a JPEG."""
        seen, _ = self.latest()
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    seq, frame = self.latest()
                    if frame is not None and seq > seen:
                        break
                    await asyncio.sleep(0.02)
        except TimeoutError:
            why = f": {self.error}" if self.error else ""
            raise FrameRefused(
                "timeout", f"no new frame from the stream in {timeout_s}s{why}"
            ) from None
        ok, buf = await asyncio.to_thread(
            cv2.imencode, ".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise FrameRefused("not_jpeg", "could not encode the stream frame")
        return bytes(buf.tobytes())

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, self.timeout_s + 5.0)
