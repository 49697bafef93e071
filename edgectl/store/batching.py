"""Group commit's intake: everything queued at this moment, up to a limit, as one batch."""

from __future__ import annotations

import queue
from typing import Any


def take_batch(q: queue.SimpleQueue[Any], stop: object, limit: int) -> tuple[list[Any], bool]:
    """Block for the first item, then take what else is queued (at most ``limit`` in all).
    Returns (items, whether ``stop`` was met); items queued behind ``stop`` stay queued."""
    first = q.get()
    if first is stop:
        return [], True
    batch = [first]
    while len(batch) < limit:
        try:
            item = q.get_nowait()
        except queue.Empty:
            break
        if item is stop:
            return batch, True
        batch.append(item)
    return batch, False
