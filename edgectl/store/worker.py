"""A SQLite connection owned by one worker thread, for asyncio code that must not block.

Every call runs on the same thread, one at a time, so the connection is never used by two
threads at once; ``close`` waits for the call in flight (a cancelled awaiter does not stop
it) before closing the connection.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from edgectl.store.db import open_store

T = TypeVar("T")


class DbWorker:
    def __init__(self, path: Path | str, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.conn = self._executor.submit(open_store, path).result()

    async def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run ``fn(conn, *args, **kw)`` on the worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(fn, self.conn, *args, **kw)
        )

    def close(self) -> None:
        self._executor.submit(self.conn.close)
        self._executor.shutdown(wait=True)
