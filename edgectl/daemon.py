"""The daemon: one asyncio loop that wires drivers, router, journal and sinks together."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime

import structlog
from aiohttp import web

from drivers.base import Driver
from drivers.wiegand.reader import WiegandReaderDriver
from edgectl import metrics
from edgectl.config import Config
from edgectl.control import ControlServer
from edgectl.devices import DeviceRegistry
from edgectl.mqtt import AccessOps, MqttInterface
from edgectl.operations import Operations, journal_record
from edgectl.router import Clock, Router, utc_now
from edgectl.sdnotify import Notifier
from edgectl.store.credentials import AccessIndex
from edgectl.store.db import open_store
from edgectl.store.journal import Journal
from edgectl.store.retention import Retention
from edgectl.supervisor import Supervisor
from sync.client import SyncClient

log = structlog.get_logger(__name__)


def build_drivers(config: Config) -> list[Driver]:
    """One driver per link: each reader's converter port, each bus."""
    drivers: list[Driver] = [WiegandReaderDriver(r) for r in config.readers]
    if config.buses:
        from drivers import modbus

        for bus in config.buses:
            drivers.append(modbus.build(bus, config.gates, config.doors))
    return drivers


class Daemon:
    """Start with ``await start()``, stop with ``await stop()``; ``run()`` does both around signals."""

    def __init__(self, config: Config, *, clock: Clock = utc_now) -> None:
        self.config = config
        self.clock = clock
        self.notifier = Notifier()
        self.stopping = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._metrics: web.AppRunner | None = None
        self.mqtt: MqttInterface | None = None
        self.sync: SyncClient | None = None

    async def start(self) -> None:
        cfg = self.config
        self.journal = Journal(cfg.store.path)
        self.retention = Retention(self.journal, cfg.store.disk_budget_mb)
        self._background.append(asyncio.create_task(self.retention.run(), name="retention"))
        self.operations = Operations(cfg, journal_record(self.journal), self.clock)
        self.operations.load()  # work orders, tours: every deadline from stored times
        if cfg.hub.enabled:  # a consumer of the journal only: access never waits on it
            self.sync = SyncClient(
                cfg,
                cfg.store.path,
                journal=self.journal,
                on_workorders=self.operations.workorders.reload,
            )
            self._background.append(asyncio.create_task(self.sync.run(), name="sync"))
        self.index = AccessIndex.load(open_store(cfg.store.path), cfg)
        self.devices = DeviceRegistry(cfg)
        self.router = Router(cfg, self.journal, self.index, self.devices, self.clock)
        ops_task = self.operations.run(self.journal.subscribe())
        self._background.append(asyncio.create_task(ops_task, name="operations"))
        if cfg.mqtt.enabled:  # connects in the background; never waits on the broker
            self.mqtt = MqttInterface(
                cfg,
                self.journal,
                self.router,
                self.devices,
                AccessOps(self.index),
                self.clock,
                operations=self.operations,
            )
            self.mqtt.start()
        self.supervisor = Supervisor(self.router.emit)
        self.drivers = build_drivers(cfg)
        for driver in self.drivers:
            self.router.attach(driver)
            self.supervisor.start(driver)
        self.control = ControlServer(cfg.site.id, self.router, self.devices, self.operations)
        try:
            await self.control.start(cfg.daemon.control_socket)
        except OSError as exc:
            log.error("control_socket_failed", path=cfg.daemon.control_socket, error=str(exc))
        if cfg.daemon.metrics_port:
            self._metrics = await metrics.serve(cfg.daemon.metrics_host, cfg.daemon.metrics_port)
        self._background.append(asyncio.create_task(self.notifier.watchdog()))
        log.info(
            "started",
            site=cfg.site.id,
            drivers=[d.id for d in self.drivers],
            journal=str(self.journal.path),
        )
        self.notifier.send("READY=1\nSTATUS=running")

    async def stop(self) -> None:
        self.notifier.send("STOPPING=1")
        log.info("stopping")
        await self.supervisor.stop()
        self.router.doors.stop()
        await self.router.drain()
        await self.control.stop()
        if self.mqtt:
            await self.mqtt.stop()
        if self._metrics:
            await self._metrics.cleanup()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.operations.close()
        await self.journal.close()
        log.info("stopped", at=datetime.now(UTC).isoformat())

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        await self.start()
        try:
            await self.stopping.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError):
                    loop.remove_signal_handler(sig)
        return 0
