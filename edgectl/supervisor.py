"""Runs every long-running task (drivers, sync, retention, MQTT) and restarts a failed one
with backoff; door timers report their crashes here too.

A crash is logged with its traceback, counted in ``edgectl_task_restarts_total{task}``,
journaled as a ``task_failed`` event, and the task is started again after an exponential,
jittered backoff. A task failing never touches the others. A driver's devices are also
reported offline (and ``driver_restarted`` journaled, as MQTT consumers expect) until it
reports them online again.

``problems()`` is what the systemd watchdog asks before each keep-alive: a supervision
loop that itself ended, or a critical task that has failed ``critical_failures`` times in
a row without one stable run (``stable_after_s``), stops the petting.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from drivers.base import Driver, Emit
from edgectl.backoff import backoff_delay
from edgectl.domain import DeviceOffline, DriverRestarted, TaskFailed
from edgectl.metrics import TASK_RESTARTS

log = structlog.get_logger(__name__)

Factory = Callable[[], Awaitable[None]]
CRITICAL_FAILURES = 10  # about five minutes of failing at the 30 s backoff cap


@dataclass
class _Health:
    critical: bool
    failures: int = 0  # consecutive, without a stable run
    started: float = 0.0
    running: bool = False


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


class Supervisor:
    def __init__(
        self,
        emit: Emit,
        *,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stable_after_s: float = 30.0,
        critical_failures: int = CRITICAL_FAILURES,
    ) -> None:
        self.emit = emit
        self.initial = initial_backoff_s
        self.max = max_backoff_s
        self.stable_after = stable_after_s
        self.critical_failures = critical_failures
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = {}
        self.health: dict[str, _Health] = {}

    def start(self, driver: Driver, *, critical: bool = True) -> None:
        """Run ``driver`` under supervision, as task ``driver.id``."""
        self.spawn(
            driver.id, lambda: driver.run(self.emit), critical=critical, devices=driver.devices
        )

    def spawn(
        self,
        name: str,
        factory: Factory,
        *,
        critical: bool = False,
        devices: Iterable[str] | None = None,
    ) -> asyncio.Task[None]:
        """Run ``factory()`` until cancelled, starting it again whenever it ends.
        ``devices``: the task is a driver with these devices."""
        self.health[name] = _Health(critical)
        task = asyncio.create_task(self._keep(name, factory, devices), name=name)
        self.tasks[name] = task
        return task

    async def _keep(self, name: str, factory: Factory, devices: Iterable[str] | None) -> None:
        health = self.health[name]
        while True:
            health.started, health.running = time.monotonic(), True
            try:
                await factory()
                error, where = "task returned", ""
                log.error("task_returned", task=name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a task may fail in any way; contain it here
                error, where = f"{type(exc).__name__}: {exc}", _where(exc)
                # the traceback as plain text: cheap to render however often a task fails
                trace = "".join(traceback.format_exception(exc))
                log.error("task_failed", task=name, error=error, traceback=trace)
            health.running = False
            if time.monotonic() - health.started > self.stable_after:
                health.failures = 0
            backoff = self.failed(name, error, where, devices)
            await asyncio.sleep(backoff)

    def failed(
        self, name: str, error: str, where: str = "", devices: Iterable[str] | None = None
    ) -> float:
        """Count and journal one failure of task ``name``; return its backoff in seconds.

        Also the entry point for work that is not a coroutine (door timers)."""
        health = self.health.setdefault(name, _Health(critical=False))
        health.failures += 1
        self.restarts[name] = self.restarts.get(name, 0) + 1
        TASK_RESTARTS.labels(name).inc()
        backoff = backoff_delay(health.failures, self.initial, self.max)
        now = datetime.now(UTC)
        log.warning("task_restarting", task=name, error=error, retry_in_s=round(backoff, 2))
        self.emit(
            TaskFailed(
                source=name,
                at=now,
                error=error,
                where=where,
                attempt=health.failures,
                backoff_s=backoff,
                critical=health.critical,
            )
        )
        if devices is not None:
            self.emit(
                DriverRestarted(
                    source=name, at=now, error=error, attempt=health.failures, backoff_s=backoff
                )
            )
            for device in sorted(devices):
                self.emit(DeviceOffline(source=device, at=now, error=error, retry_in_s=backoff))
        return backoff

    def problems(self) -> list[str]:
        """Why the process should not be considered alive (empty: it is)."""
        out = [
            f"supervision of {name} ended"
            for name, task in self.tasks.items()
            if task.done() and not task.cancelled()
        ]
        now = time.monotonic()
        for name, health in self.health.items():
            stable = health.running and now - health.started > self.stable_after
            if health.critical and health.failures >= self.critical_failures and not stable:
                out.append(f"{name} stays down ({self.critical_failures}+ failures in a row)")
        return out

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel every task; one that will not finish must not hold up the shutdown."""
        for task in self.tasks.values():
            task.cancel()
        if not self.tasks:
            return
        _, stuck = await asyncio.wait(set(self.tasks.values()), timeout=timeout_s)
        for task in stuck:
            log.warning("task_stop_timed_out", task=task.get_name(), after_s=timeout_s)
