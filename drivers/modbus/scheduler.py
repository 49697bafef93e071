"""One owner per bus: commands go on the wire in the next free slot, polls fill the rest.

``Agenda`` is the pure decision (time passed in): which job goes next, or when to wake.
Commands are first-in first-out and always ahead of polls; among polls the most overdue
goes first, skipping units whose breaker is open. ``BusOwner`` is the single task that
owns the link and runs the agenda: bounded retries, metrics, breaker bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from drivers.modbus import metrics
from drivers.modbus.breaker import Breaker
from drivers.modbus.frames import ExceptionReply, FrameError, Request, Unexpected, decode_values
from drivers.modbus.link import LinkError, RtuLink, TcpLink

log = structlog.get_logger(__name__)

FAST_POLL_S = 0.1  # poll interval while a command's effect is being watched


@dataclass(eq=False)
class Command:
    """A write queued for the wire; ``done`` resolves with the outcome."""

    key: str
    request: Request
    done: asyncio.Future[list[int]] | None = None


@dataclass(eq=False)
class Poll:
    """A recurring read of one register range of one gate."""

    key: str
    request: Request
    interval_s: float
    due: float = 0.0
    fast_until: float = 0.0

    def reschedule(self, started: float) -> None:
        interval = (
            min(self.interval_s, FAST_POLL_S) if started < self.fast_until else self.interval_s
        )
        self.due = started + interval


@dataclass
class Agenda:
    """What the bus does next. Pure: no I/O, no clock."""

    commands: deque[Command] = field(default_factory=deque)
    polls: list[Poll] = field(default_factory=list)
    breakers: dict[int, Breaker] = field(default_factory=dict)

    def breaker(self, unit: int) -> Breaker:
        return self.breakers.setdefault(unit, Breaker())

    def next(self, now: float) -> Command | Poll | float:
        """The job to run now, or the monotonic time at which to ask again."""
        if self.commands:
            return self.commands.popleft()
        best: Poll | None = None
        earliest = float("inf")
        for poll in self.polls:
            ready = max(poll.due, self.breaker(poll.request.unit).open_until)
            if ready < earliest:
                best, earliest = poll, ready
        return best if best is not None and earliest <= now else earliest

    def hurry(self, key: str, now: float, for_s: float) -> None:
        """Poll ``key`` now and fast for ``for_s`` (watching a command take effect)."""
        for poll in self.polls:
            if poll.key == key:
                poll.due = now
                poll.fast_until = now + for_s


PollResult = Callable[[str, Request, list[int] | None], None]
UnitChange = Callable[[int, bool, str, float], None]


class BusOwner:
    """The single task allowed to touch a bus's link."""

    def __init__(
        self,
        bus_id: str,
        link: RtuLink | TcpLink,
        retries: int,
        on_poll: PollResult,
        on_unit: UnitChange,
    ) -> None:
        self.bus_id = bus_id
        self.link = link
        self.retries = retries
        self.agenda = Agenda()
        self.on_poll = on_poll
        self.on_unit = on_unit
        self._wake = asyncio.Event()

    def add_poll(self, key: str, request: Request, interval_s: float) -> None:
        self.agenda.polls.append(Poll(key, request, interval_s))

    async def command(self, key: str, request: Request) -> list[int]:
        """Queue ``request`` ahead of every poll; return the values read; raise FrameError."""
        cmd = Command(key, request, asyncio.get_running_loop().create_future())
        self.agenda.commands.append(cmd)
        self._wake.set()
        assert cmd.done is not None
        return await cmd.done

    def hurry(self, key: str, for_s: float) -> None:
        self.agenda.hurry(key, time.monotonic(), for_s)
        self._wake.set()

    async def run(self) -> None:
        """Own the bus until cancelled; LinkError escapes (the port failed). Anything else
        that goes wrong fails only the one transaction (see ``_transact``)."""
        try:
            while True:
                # Choose only once the line is free, so a command queued during the gap
                # goes ahead of the poll that would otherwise have been picked already.
                await self.link.wait_free()
                job = self.agenda.next(time.monotonic())
                if isinstance(job, float):
                    await self._sleep_until(job)
                elif isinstance(job, Command):
                    await self._run_command(job)
                else:
                    await self._run_poll(job)
        finally:
            self._fail_pending("bus owner stopped")

    async def _sleep_until(self, when: float) -> None:
        self._wake.clear()
        if self.agenda.commands:
            return
        timeout = None if when == float("inf") else max(0.0, when - time.monotonic())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _run_command(self, cmd: Command) -> None:
        assert cmd.done is not None
        try:
            values = await self._transact(cmd.request, self.retries)
        except BaseException as exc:
            if not cmd.done.done():
                cmd.done.set_exception(
                    exc if isinstance(exc, FrameError) else FrameError(repr(exc))
                )
            if not isinstance(exc, FrameError):
                raise
        else:
            if not cmd.done.done():
                cmd.done.set_result(values)

    async def _run_poll(self, poll: Poll) -> None:
        started = time.monotonic()
        poll.reschedule(started)
        breaker = self.agenda.breaker(poll.request.unit)
        retries = self.retries if breaker.online is not False else 0
        try:
            values: list[int] | None = await self._transact(poll.request, retries)
        except FrameError:
            values = None
        try:
            self.on_poll(poll.key, poll.request, values)
        except Exception:  # a bug reading this reply must not end the bus
            log.exception("modbus_poll_handler_failed", bus=self.bus_id, key=poll.key)

    async def _transact(self, request: Request, retries: int) -> list[int]:
        unit = request.unit
        breaker = self.agenda.breaker(unit)
        began = time.monotonic()
        error: FrameError | None = None
        for _ in range(1 + retries):
            start = time.monotonic()
            try:
                pdu = await self.link.transact(request)
                values = decode_values(pdu, request)
            except ExceptionReply as exc:
                metrics.count(self.bus_id, unit, exc.kind, time.monotonic() - start)
                self._alive(unit, breaker)
                raise
            except FrameError as exc:
                metrics.count(self.bus_id, unit, exc.kind, time.monotonic() - start)
                error = exc
                continue
            except LinkError:
                raise
            except Exception as exc:  # not worth a retry: it would fail the same way
                error = Unexpected(f"{type(exc).__name__}: {exc}")
                trace = "".join(traceback.format_exception(exc))
                log.error("modbus_transaction_failed", bus=self.bus_id, unit=unit, traceback=trace)
                metrics.count(self.bus_id, unit, error.kind, time.monotonic() - start)
                break
            metrics.count(self.bus_id, unit, "ok", time.monotonic() - start)
            self._alive(unit, breaker)
            return values
        now = time.monotonic()
        if breaker.failure(now, now - began):
            self.on_unit(unit, False, str(error), breaker.open_until - now)
        assert error is not None
        raise error

    def _alive(self, unit: int, breaker: Breaker) -> None:
        if breaker.success():
            self.on_unit(unit, True, "", 0.0)

    def _fail_pending(self, why: str) -> None:
        while self.agenda.commands:
            cmd = self.agenda.commands.popleft()
            if cmd.done and not cmd.done.done():
                cmd.done.set_exception(FrameError(why))
