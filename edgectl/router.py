"""The router: events from drivers to rules and the journal, commands to their drivers.

The access path is kept short: a ``CredentialPresented`` is looked up, decided and its
actuation handed to the owning driver before anything is written, so a slow disk or a
dead network never delays a gate. The decision is then journaled like every other event.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from drivers.base import DeviceError, Driver
from edgectl import metrics
from edgectl.config import Config, Reader
from edgectl.devices import DeviceRegistry
from edgectl.domain import (
    AccessAlarm,
    AccessDecided,
    BadRead,
    Command,
    CredentialPresented,
    DoorContact,
    Event,
    IntercomSignal,
    ReaderFeedback,
)
from edgectl.doors import DoorManager
from edgectl.intercoms import IntercomManager
from edgectl.store.access_index import AccessIndex
from edgectl.store.journal import Journal
from rules import access

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def credential_label(event: CredentialPresented) -> str:
    if event.format == "pin":
        return "keypad"  # a PIN or visitor code: never journal the digits
    if event.facility is None:
        return f"{event.format}:{event.number}"
    return f"{event.format}:{event.facility}:{event.number}"


def store_error(reader: Reader, now: datetime) -> access.Decision:
    """The decision when the store cannot be read: denied, with an alarm for operators."""
    alarm = AccessAlarm(
        source=reader.id, at=now, alarm="store_error", target=reader.target, person_id=None
    )
    feedback = ReaderFeedback(target=reader.id, granted=False)
    return access.Decision(False, "store_error", (feedback, alarm))


class Router:
    def __init__(
        self,
        config: Config,
        journal: Journal,
        index: AccessIndex,
        devices: DeviceRegistry,
        clock: Clock = utc_now,
    ) -> None:
        self.config = config
        self.journal = journal
        self.index = index
        self.devices = devices
        self.clock = clock
        self._readers = {r.id: r for r in config.readers}
        for ic in config.intercoms:  # an intercom is a reader for cards and codes too
            self._readers[ic.id] = Reader(
                ic.id, "", door=ic.door, gate=ic.gate, direction=ic.direction
            )
        self._owners: dict[str, Driver] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._watchers: list[Callable[[Event], None]] = []
        self.doors = DoorManager(index.policy, clock, self.apply)
        self.intercoms = IntercomManager(config.intercoms, clock, self.apply)

    def watch(self, watcher: Callable[[Event], None]) -> None:
        """Call ``watcher`` with every event as it is recorded; it must never block."""
        self._watchers.append(watcher)

    def attach(self, driver: Driver) -> None:
        for device in driver.devices:
            self._owners[device] = driver

    # --- events in ----------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Take an event from a driver or the supervisor. Never blocks."""
        if isinstance(event, CredentialPresented):
            self._decide(event)
            return
        if isinstance(event, IntercomSignal):
            self.intercoms.signal(event.source, event.state)  # journals the IntercomCall
            return
        if isinstance(event, BadRead):
            metrics.BAD_READS.labels(event.source, event.reason).inc()
        elif isinstance(event, DoorContact):
            self.doors.contact(event.source, event.open)
        self.devices.observe(event)
        self.record(event)

    def apply(self, effects: tuple[Command | Event, ...]) -> None:
        """Carry out rule effects: commands to their drivers now, events to the journal."""
        for effect in effects:
            if isinstance(effect, Command):
                self.execute_soon(effect)
        for effect in effects:
            if isinstance(effect, Event):
                self.record(effect)

    def record(self, event: Event) -> asyncio.Future[object]:
        fut = self.journal.append(event)
        fut.add_done_callback(_log_failure)
        for watcher in self._watchers:
            watcher(event)
        return fut  # type: ignore[return-value]

    def _decide(self, event: CredentialPresented) -> None:
        reader = self._readers.get(event.source)
        if reader is None:
            log.error("credential_from_unknown_reader", reader=event.source)
            return
        started = time.perf_counter()
        now = self.clock()
        try:
            decision = access.decide(self.index.state_for(event, reader), event, now)
        except sqlite3.Error as exc:  # an unreadable store denies; it never unwinds a driver
            log.error("access_store_error", reader=reader.id, error=str(exc))
            decision = store_error(reader, now)
        self.apply(decision.effects)
        self.index.apply(decision)  # anti-passback, pass uses: in memory now, on disk behind
        metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
        metrics.DECISIONS.labels(str(decision.granted).lower(), decision.reason).inc()
        self.record(
            AccessDecided(
                source=reader.id,
                at=now,
                granted=decision.granted,
                reason=decision.reason,
                credential=credential_label(event),
                person_id=decision.person_id,
                target=reader.target,
                direction=reader.direction,
            )
        )

    # --- commands out -------------------------------------------------------------

    def owner(self, target: str) -> Driver | None:
        return self._owners.get(target)

    async def execute(self, command: Command) -> None:
        """Carry out a command on its device now; raise DeviceError if it cannot."""
        driver = self._owners.get(command.target)
        if driver is None:
            raise DeviceError(f"no device {command.target!r}")
        await driver.execute(command)
        self.doors.commanded(command)

    def execute_soon(self, command: Command) -> None:
        task = asyncio.get_running_loop().create_task(self._execute_logged(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute_logged(self, command: Command) -> None:
        try:
            await self.execute(command)
        except DeviceError as exc:
            log.warning(
                "command_failed", command=command.KIND, target=command.target, error=str(exc)
            )

    async def drain(self) -> None:
        """Wait for in-flight commands (used at shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


def _log_failure(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("journal_append_failed", error=str(fut.exception()))
