"""Runs each driver as its own task and restarts a failed one with exponential backoff.

A driver failing never touches the others. Every restart is journaled, and the driver's
devices are reported offline until it reports them online again.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

import structlog

from drivers.base import Driver, Emit
from edgectl.domain import DeviceOffline, DriverRestarted

log = structlog.get_logger(__name__)


class Supervisor:
    def __init__(
        self,
        emit: Emit,
        *,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stable_after_s: float = 30.0,
    ) -> None:
        self.emit = emit
        self.initial = initial_backoff_s
        self.max = max_backoff_s
        self.stable_after = stable_after_s
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = {}

    def start(self, driver: Driver) -> None:
        self.tasks[driver.id] = asyncio.create_task(self._keep(driver), name=f"driver:{driver.id}")

    async def _keep(self, driver: Driver) -> None:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                await driver.run(self.emit)
                error = "driver returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a driver may fail in any way; contain it here
                error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started > self.stable_after:
                attempt = 0
            attempt += 1
            self.restarts[driver.id] = self.restarts.get(driver.id, 0) + 1
            backoff = min(self.max, self.initial * 2 ** (attempt - 1))
            backoff *= random.uniform(0.8, 1.2)
            now = datetime.now(UTC)
            log.warning(
                "driver_failed", driver=driver.id, error=error, retry_in_s=round(backoff, 2)
            )
            self.emit(
                DriverRestarted(
                    source=driver.id, at=now, error=error, attempt=attempt, backoff_s=backoff
                )
            )
            for device in sorted(driver.devices):
                self.emit(DeviceOffline(source=device, at=now, error=error, retry_in_s=backoff))
            await asyncio.sleep(backoff)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel every driver; one that will not finish must not hold up the shutdown."""
        for task in self.tasks.values():
            task.cancel()
        if not self.tasks:
            return
        _, stuck = await asyncio.wait(set(self.tasks.values()), timeout=timeout_s)
        for task in stuck:
            log.warning("driver_stop_timed_out", driver=task.get_name(), after_s=timeout_s)
