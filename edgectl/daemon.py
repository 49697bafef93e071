"""The daemon: one asyncio loop that wires drivers, router, journal and sinks together."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from drivers.base import Driver
from drivers.intercom.driver import IntercomDriver
from drivers.wiegand.reader import WiegandReaderDriver
from edgectl import metrics
from edgectl.commands.ops import AccessOps
from edgectl.commands.pipeline import Pipeline
from edgectl.config import Config
from edgectl.control import ControlServer
from edgectl.devices import DeviceRegistry
from edgectl.locks import StoreLock
from edgectl.mqtt import MqttInterface
from edgectl.operations import Operations, journal_record
from edgectl.readtap import ReadTap
from edgectl.router import Clock, Router, utc_now
from edgectl.sdnotify import Notifier
from edgectl.site.worker import SiteWorker, fan_out
from edgectl.store.access_index import AccessIndex
from edgectl.store.db import open_store
from edgectl.store.journal import Journal
from edgectl.store.recover import ensure_intact
from edgectl.store.retention import Retention
from edgectl.supervisor import Supervisor
from sync.client import SyncClient

if TYPE_CHECKING:
    from edgectl.cameras import Cameras

log = structlog.get_logger(__name__)


def build_drivers(config: Config) -> list[Driver]:
    """One driver per link: each reader's converter port, each intercom, each bus."""
    drivers: list[Driver] = [WiegandReaderDriver(r) for r in config.readers]
    drivers += [IntercomDriver(ic) for ic in config.intercoms]
    if config.buses:
        from drivers import modbus

        for bus in config.buses:
            drivers.append(modbus.build(bus, config.gates, config.doors))
    return drivers


class Daemon:
    """Start with ``await start()``, stop with ``await stop()``; ``run()`` does both around signals.

    Every part ``start()`` brings up registers its own shutdown as it starts, so ``stop()``
    after a ``start()`` that failed half way stops exactly what had started.
    """

    def __init__(self, config: Config, *, clock: Clock = utc_now) -> None:
        self.config = config
        self.clock = clock
        self.notifier = Notifier()
        self.stopping = asyncio.Event()
        self._exit = contextlib.AsyncExitStack()
        self.mqtt: MqttInterface | None = None
        self.sync: SyncClient | None = None
        self.cameras: Cameras | None = None

    async def start(self) -> None:
        cfg = self.config
        stack = self._exit
        store_lock = StoreLock(cfg.store.path)  # one daemon per store: raises Busy naming it
        store_lock.acquire()
        stack.callback(store_lock.release)
        ensure_intact(cfg.store.path)  # a damaged store is refused, naming `db recover`
        self.journal = Journal(cfg.store.path)
        stack.push_async_callback(self.journal.close)
        self.operations = Operations(
            cfg, journal_record(self.journal), self.clock, on_commit=fan_out(self.journal)
        )
        stack.push_async_callback(self.operations.close)  # after its task stopped
        self.operations.load()  # work orders, tours: every deadline from stored times
        self.index = AccessIndex.load(open_store(cfg.store.path), cfg)
        stack.push_async_callback(asyncio.to_thread, self.index.close)  # queued updates land
        self.site = SiteWorker(cfg, self.journal)  # the one writer of site state
        stack.callback(self.site.close)
        self.devices = DeviceRegistry(cfg)
        self.router = Router(cfg, self.journal, self.index, self.devices, self.clock)
        ops = AccessOps(self.site, self.index)
        self.commands = Pipeline(
            cfg, self.router, self.devices, ops, self.clock, operations=self.operations
        )
        stack.push_async_callback(self.router.drain)
        stack.callback(self.router.doors.stop)
        stack.callback(self.router.intercoms.stop)
        # Background work: journaled and restarted when it fails, never critical to access.
        self.background = Supervisor(self.router.emit)
        stack.push_async_callback(self.background.stop)
        self.router.doors.on_failure = self.background.failed
        self.router.intercoms.deadlines.on_failure = self.background.failed
        self.retention = Retention(self.journal, cfg.store.disk_budget_mb)
        self.background.spawn("retention", self.retention.run)
        if cfg.hub.enabled:  # a consumer of the journal only: access never waits on it
            self.sync = SyncClient(
                cfg,
                cfg.store.path,
                journal=self.journal,
                on_workorders=self.operations.workorders.reload,
            )
            self.background.spawn("sync", self.sync.run)
        stack.push_async_callback(self._stop_cameras)  # after their drivers stopped
        feed = self.journal.subscribe()  # device faults and badge-ins, for the operations
        self.background.spawn("operations", lambda: self.operations.run(feed))
        self.reads = ReadTap()  # live reads for `readers watch` and `cards enroll`
        self.supervisor = Supervisor(self.reads.wrap(self.router.emit))
        stack.push_async_callback(self.supervisor.stop)
        self.drivers = build_drivers(cfg)
        for driver in self.drivers:
            self._start_driver(driver)
        await self._start_cameras()
        if cfg.mqtt.enabled:  # after the drivers; connects in the background, never waits
            self.mqtt = MqttInterface(cfg, self.journal, self.devices, self.commands, self.clock)
            stack.push_async_callback(self.mqtt.stop)
            self.mqtt.start(self.background.spawn)
        self.control = ControlServer(cfg.site.id, self.commands, self.devices)
        self.control.health = self.health
        self.reads.add_route(self.control.app, [r.id for r in cfg.readers])
        stack.push_async_callback(self.control.stop)
        try:
            await self.control.start(cfg.daemon.control_socket)
        except OSError as exc:
            log.error("control_socket_failed", path=cfg.daemon.control_socket, error=str(exc))
        if cfg.daemon.metrics_port:
            runner = await metrics.serve(cfg.daemon.metrics_host, cfg.daemon.metrics_port)
            stack.push_async_callback(runner.cleanup)
        watchdog = asyncio.create_task(self.notifier.watchdog(self.problems), name="watchdog")
        stack.push_async_callback(_cancel, watchdog)
        log.info(
            "started",
            site=cfg.site.id,
            drivers=[d.id for d in self.drivers],
            journal=str(self.journal.path),
        )
        self.notifier.send("READY=1\nSTATUS=running")

    def _start_driver(self, driver: Driver) -> None:
        self.router.attach(driver)
        # A device fault stays that device's fault: the supervisor keeps retrying it,
        # and the watchdog never restarts the whole site for one unplugged reader.
        self.supervisor.start(driver, critical=False)

    async def _start_cameras(self) -> None:
        """Camera drivers on a loop of their own, started after the readers and gates:
        zeep and OpenCV take a good part of a second to import, so that import runs in a
        thread while the first cards are already decided."""
        cfg = self.config
        if not cfg.cameras.devices:
            return
        await asyncio.to_thread(importlib.import_module, "edgectl.cameras")
        from edgectl import cameras
        from sync.evidence import EvidenceUploader

        self.cameras = cameras.build(cfg, self.clock)
        site = cameras.CameraSite(cfg, self.router, lambda: self.index.policy, self.clock)
        self.router.watch(site.observe)
        self.router.intercoms.evidence = site.capture  # a frame of each ringing call
        if cfg.hub.enabled:  # thumbnails follow their events
            uploader = EvidenceUploader(cfg, self.cameras.store)
            self.router.watch(uploader.observe)
            self.background.spawn("evidence-upload", uploader.run)
        for driver in self.cameras.drivers:
            self.drivers.append(driver)
            self._start_driver(driver)

    async def _stop_cameras(self) -> None:
        if self.cameras is not None:
            await asyncio.to_thread(self.cameras.loop.stop)

    def problems(self) -> list[str]:
        """What stops the watchdog keep-alive. Critical: the journal writer, every
        supervision loop, and each driver (a driver failing CRITICAL_FAILURES times in a
        row). The router and door timers run on the loop itself: the keep-alive is sent
        from the loop, so a stalled loop stops it too."""
        found = [] if self.journal.writer_alive else ["journal writer stopped"]
        return found + self.supervisor.problems() + self.background.problems()

    def health(self) -> dict[str, object]:
        """Each driver's own health and every supervised task's restarts, for /v1/status."""
        drivers = {}
        for driver in self.drivers:
            h = driver.health()
            restarts = self.supervisor.restarts.get(driver.id, 0)
            drivers[driver.id] = {"online": h.online, "detail": h.detail, "restarts": restarts}
        store_error = self.journal.store_error  # commits failing for good: health is red
        return {
            "health": "red" if store_error else "green",
            "store_error": store_error or None,
            "drivers": drivers,
            "tasks": {"restarts": self.supervisor.restarts | self.background.restarts},
            "problems": self.problems(),
        }

    async def stop(self) -> None:
        self.notifier.send("STOPPING=1")
        log.info("stopping")
        await self._exit.aclose()
        log.info("stopped", at=datetime.now(UTC).isoformat())

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            await self.start()
            await self.stopping.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError):
                    loop.remove_signal_handler(sig)
        return 0


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
