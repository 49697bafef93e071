"""Forward thumbnails of evidence frames to the hub (``POST /v1/sites/{site}/evidence/{id}``).

The journal's ``evidence_captured`` events travel with the outbox like every event; the
pictures follow here, oldest first, as thumbnails ``cameras.thumbnail_px`` wide. The
cursor is the last id the hub accepted, kept in a file beside the frames, so a restart
resumes and nothing is sent twice on purpose (the hub is idempotent anyway). A frame the
local store evicted before it was sent is skipped; a frame the hub refuses as bad is
logged and skipped; the hub being down or refusing our token backs off and retries.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import structlog

from edgectl.config import Config
from edgectl.domain import Event, EvidenceCaptured
from edgectl.store.evidence import EvidenceStore
from sync.client import ssl_context

log = structlog.get_logger(__name__)
CURSOR_FILE = ".uploaded"


def thumbnail(jpeg: bytes, width: int, quality: int = 70) -> bytes:
    """``jpeg`` scaled down to ``width`` pixels wide (never up), re-encoded."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("not a decodable JPEG")
    height, current = img.shape[:2]
    if current > width:
        img = cv2.resize(
            img, (width, max(1, height * width // current)), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the thumbnail")
    return bytes(buf.tobytes())


class HubRefused(Exception):
    """The hub refused this frame for good (4xx other than auth): skip it."""


class EvidenceUploader:
    def __init__(self, config: Config, store: EvidenceStore) -> None:
        self.hub = config.hub
        self.store = store
        self.width = config.cameras.thumbnail_px
        self.base = self.hub.url.rstrip("/") + f"/v1/sites/{config.site.id}/evidence/"
        self.cursor_path = Path(store.path) / CURSOR_FILE
        self.sent = 0
        self._wake = asyncio.Event()

    def observe(self, event: Event) -> None:
        if isinstance(event, EvidenceCaptured):
            self._wake.set()

    def cursor(self) -> str:
        try:
            return self.cursor_path.read_text().strip()
        except FileNotFoundError:
            return ""

    async def run(self) -> None:
        """Upload until cancelled. Never raises for hub or network trouble."""
        timeout = aiohttp.ClientTimeout(total=self.hub.timeout_s)
        connector = aiohttp.TCPConnector(ssl=ssl_context(self.hub.tls) or True)
        headers = {"Authorization": f"Bearer {self.hub.token}"}
        backoff = self.hub.backoff_base_s
        async with aiohttp.ClientSession(
            timeout=timeout, connector=connector, headers=headers
        ) as http:
            while True:
                self._wake.clear()
                try:
                    await self.upload_pending(http)
                    backoff = self.hub.backoff_base_s
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    log.warning(
                        "evidence_upload_failed", error=str(exc), retry_in_s=round(backoff, 2)
                    )
                    await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                    backoff = min(backoff * 2, self.hub.backoff_max_s)
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self.hub.interval_s)
                except TimeoutError:
                    pass

    async def upload_pending(self, http: aiohttp.ClientSession) -> None:
        cursor = await asyncio.to_thread(self.cursor)
        for evidence_id in [i for i in self.store.ids() if i > cursor]:
            jpeg = await asyncio.to_thread(self.store.get, evidence_id)
            if jpeg is not None:
                try:
                    await self._post(http, evidence_id, jpeg)
                except HubRefused as exc:
                    log.error("evidence_refused_by_hub", evidence_id=evidence_id, error=str(exc))
            await asyncio.to_thread(self.cursor_path.write_text, evidence_id)

    async def _post(self, http: aiohttp.ClientSession, evidence_id: str, jpeg: bytes) -> None:
        try:
            thumb = await asyncio.to_thread(thumbnail, jpeg, self.width)
        except ValueError as exc:
            raise HubRefused(str(exc)) from None
        async with http.post(
            self.base + evidence_id, data=thumb, headers={"Content-Type": "image/jpeg"}
        ) as resp:
            text = (await resp.text())[:200]
            if resp.status in (401, 403) or resp.status >= 500:
                raise aiohttp.ClientResponseError(
                    resp.request_info, (), status=resp.status, message=text
                )
            if resp.status >= 400:
                raise HubRefused(f"HTTP {resp.status}: {text}")
        self.sent += 1
