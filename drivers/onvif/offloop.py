"""Cameras run on their own thread and event loop, off the loop that decides access.

A camera's work is CPU-heavy for Python: zeep builds and parses every SOAP message, and
health checks fetch and decode a frame per camera per second. On the daemon's loop that
work delays card decisions (measured in docs/bench-cameras.md). Here every camera driver
runs on one "cameras" loop in one thread; ``OffLoopDriver`` is the proxy the spine sees:
it keeps the ``Driver`` contract, hands events back to the daemon's loop with
``call_soon_threadsafe`` and runs commands on the cameras' loop. The GIL is still shared,
but the daemon's loop now waits at most a switch interval, not a whole SOAP parse.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from drivers.base import Emit, Health
from edgectl.domain import Command, Event

if TYPE_CHECKING:  # zeep and OpenCV load with the driver, not with the command table
    from drivers.onvif.driver import CameraDriver

T = TypeVar("T")


SWITCH_INTERVAL_S = 0.001


class CameraLoop:
    def __init__(self) -> None:
        # The cameras' thread holds the GIL in stretches of Python (zeep, aiohttp); the
        # daemon's loop gets it back after at most this (the interpreter's default: 5 ms).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cameras", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the cameras' loop; cancelling the caller cancels it there."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def _shutdown(self) -> None:
        """Let cancelled drivers finish closing their sessions, then cancel what is left."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=3)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)

    def stop(self) -> None:
        """Cancel what still runs there (bounded), then stop the loop and its thread."""
        if not self.loop.is_running():
            return
        done = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        try:
            done.result(5)
        except (TimeoutError, asyncio.CancelledError):
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class OffLoopDriver:
    """A ``CameraDriver`` running on a ``CameraLoop``, seen by the spine as any driver."""

    def __init__(self, driver: CameraDriver, cameras: CameraLoop) -> None:
        self.driver = driver
        self.cameras = cameras
        self.id = driver.id

    @property
    def devices(self) -> frozenset[str]:
        return self.driver.devices

    def health(self) -> Health:
        return self.driver.health()

    async def run(self, emit: Emit) -> None:
        home = asyncio.get_running_loop()

        def emit_home(event: Event) -> None:
            home.call_soon_threadsafe(emit, event)

        await self.cameras.call(self.driver.run(emit_home))

    async def execute(self, command: Command) -> None:
        await self.cameras.call(self.driver.execute(command))

    async def presets(self) -> list[dict[str, str]]:
        return await self.cameras.call(self.driver.presets())

    async def set_preset(self, name: str, preset: str = "") -> str:
        return await self.cameras.call(self.driver.set_preset(name, preset))
