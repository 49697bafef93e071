"""Getting a frame: the snapshot URI over HTTP (digest auth), or a warm stream with OpenCV.

A snapshot is read in chunks and refused as soon as it passes the size limit, so a
50 MB answer never sits in memory; it must look like a JPEG (SOI at the start, EOI at
the end). OpenCV blocks, so the stream is read on its own thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

import aiohttp
import cv2
import numpy as np

from drivers.onvif.session import describe
from edgectl.store.evidence import is_jpeg

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


class WarmStream:
    """Keeps an OpenCV capture open and reading on a thread; ``latest`` is the newest frame.

    Only for cameras without a snapshot URI (or ``grab = "stream"``): a warm stream costs
    a decoder and a connection all the time, but gives a frame with no connect delay.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream:{self.uri}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            capture = cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG)
            while capture.isOpened() and not self._stop.is_set():
                ok, frame = capture.read()
                if not ok:
                    self.error = "stream read failed"
                    break
                with self._lock:
                    self._frame, self._seq = frame, self._seq + 1
            capture.release()
            self._stop.wait(1.0)

    def latest(self) -> tuple[int, np.ndarray | None]:
        with self._lock:
            return self._seq, self._frame

    async def jpeg(self, timeout_s: float, quality: int = 85) -> bytes:
        """A frame newer than the one current at the call, as a JPEG."""
        seen, _ = self.latest()
        async with asyncio.timeout(timeout_s):
            while True:
                seq, frame = self.latest()
                if frame is not None and seq > seen:
                    break
                await asyncio.sleep(0.02)
        ok, buf = await asyncio.to_thread(
            cv2.imencode, ".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise FrameRefused("not_jpeg", "could not encode the stream frame")
        return bytes(buf.tobytes())

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
