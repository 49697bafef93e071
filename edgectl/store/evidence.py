"""The evidence store: JPEG frames in one folder, within a byte budget, oldest out first.

Ids sort by time (``20261130T061200123456Z-cam-1a2b3c``), so "oldest" is the smallest id
and the folder itself is the index: a restart rebuilds it with one listing. A frame is
written to a temporary name and renamed, so a crash never leaves half a JPEG under an id.
Calls block on the disk: the event loop calls them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

ID = re.compile(r"\A[0-9]{8}T[0-9]{12}Z-[A-Za-z0-9_-]{1,64}-[0-9a-f]{6}\Z")  # ASCII only


def is_jpeg(data: bytes) -> bool:
    """Start-of-image marker at the start, end-of-image within the last bytes."""
    return len(data) > 4 and data[:3] == b"\xff\xd8\xff" and b"\xff\xd9" in data[-16:]


def new_id(camera: str, at: datetime) -> str:
    return f"{at:%Y%m%dT%H%M%S%f}Z-{camera}-{secrets.token_hex(3)}"


class EvidenceRefused(Exception):
    """Not a JPEG, larger than the frame limit, or a bad id."""


class EvidenceStore:
    def __init__(self, path: Path | str, budget_bytes: int, max_frame_bytes: int) -> None:
        self.path = Path(path)
        self.budget = budget_bytes
        self.max_frame = max_frame_bytes
        self.refused = 0
        self.evicted = 0
        self._lock = threading.Lock()
        self._index: OrderedDict[str, int] = OrderedDict()
        self.used = 0
        self.path.mkdir(parents=True, exist_ok=True)
        for leftover in self.path.glob("*.tmp"):
            leftover.unlink(missing_ok=True)
        for item in sorted(self.path.glob("*.jpg")):
            if ID.match(item.stem):
                self._index[item.stem] = item.stat().st_size
                self.used += self._index[item.stem]

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._index)

    def put(self, evidence_id: str, jpeg: bytes) -> None:
        """Store ``jpeg``; evict the oldest frames first so the budget is never exceeded."""
        problem = None
        if not ID.match(evidence_id):
            problem = f"bad evidence id {evidence_id!r}"
        elif len(jpeg) > min(self.max_frame, self.budget):
            problem = f"{len(jpeg)} bytes is over the frame limit of {self.max_frame}"
        elif not is_jpeg(jpeg):
            problem = "not a JPEG"
        if problem:
            with self._lock:
                self.refused += 1
            raise EvidenceRefused(problem)
        with self._lock:
            while self._index and self.used + len(jpeg) > self.budget:
                oldest, size = self._index.popitem(last=False)
                self.used -= size
                (self.path / f"{oldest}.jpg").unlink(missing_ok=True)
                self.evicted += 1
            tmp = self.path / f"{evidence_id}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(jpeg)
            os.replace(tmp, self.path / f"{evidence_id}.jpg")
            self._index[evidence_id] = len(jpeg)
            self.used += len(jpeg)

    def get(self, evidence_id: str) -> bytes | None:
        if not ID.match(evidence_id):
            return None
        try:
            return (self.path / f"{evidence_id}.jpg").read_bytes()
        except FileNotFoundError:
            return None
