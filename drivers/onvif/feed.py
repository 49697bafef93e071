"""One decoded frame shared by a camera's picture watchers: health checks, motion polling.

A watcher (``watch``) asks every interval for a frame newer than the last one it saw. A frame another watcher had
fetched at most ``fresh_s`` ago is handed over instead of fetching again, so health
checks and motion polling at similar rates cost one snapshot and one decode, not two. A
watcher never gets the same frame twice (to the health checks that would look like a
frozen picture). Evidence frames do not come from here: they are always fetched fresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import cv2
import numpy as np
import structlog

from drivers.onvif.frames import FrameRefused
from drivers.onvif.health import Grey

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int  # 1, 2, ... in the order fetched
    at_s: float  # monotonic time it arrived
    grey: Grey


def decode(jpeg: bytes) -> Grey:
    """Decoded at half size by libjpeg itself (a quarter of the work): the watchers judge
    frames against each other and the camera's own baseline, so the scale does not matter."""
    grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_2)
    if grey is None:
        raise FrameRefused("not_jpeg", "the frame does not decode")
    return np.asarray(grey, dtype=np.uint8)


class FrameFeed:
    def __init__(self, camera: str, fetch: Callable[[], Awaitable[bytes]]) -> None:
        self.camera = camera
        self._fetch = fetch
        self._latest: Frame | None = None
        self._lock = asyncio.Lock()  # a second watcher waits for the fetch under way
        self.fetched = 0

    async def frame(self, seen: int, fresh_s: float) -> Frame:
        """A frame newer than seq ``seen``: the latest if at most ``fresh_s`` old, else a new one."""
        async with self._lock:
            latest = self._latest
            if (
                latest is not None
                and latest.seq > seen
                and time.monotonic() - latest.at_s <= fresh_s
            ):
                return latest
            grey = await asyncio.to_thread(decode, await self._fetch())
            self.fetched += 1
            self._latest = Frame(self.fetched, time.monotonic(), grey)
            return self._latest

    async def watch(self, what: str, interval_s: float) -> AsyncIterator[Frame]:
        """Every ``interval_s``, a frame ``what`` has not seen (a failed fetch is skipped)."""
        seen = 0
        while True:
            started = time.monotonic()
            try:
                frame = await self.frame(seen, interval_s / 2)
            except (FrameRefused, TimeoutError) as exc:
                log.debug("camera_no_frame", camera=self.camera, watcher=what, error=str(exc))
            else:
                seen = frame.seq
                yield frame
            await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
