"""One intercom: its event stream kept alive, its observations turned into domain events,
its door relay opened on command.

The stream reconnects with exponential backoff and jitter and reports the intercom offline
and online. Wrong credentials are different: ``intercom_auth_failed`` is raised and the
next attempt waits ``auth_backoff_s`` (minutes), so a changed password never locks the
device account by hammering it. Nothing a device sends is fatal: unknown event types,
malformed and oversize parts are logged and counted (``unknown``) and the stream goes on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Protocol

import aiohttp
import structlog

from drivers.base import DeviceError, Emit, Health
from drivers.intercom import http, metrics
from drivers.intercom.dahua import Dahua
from drivers.intercom.hikvision import Hikvision
from drivers.intercom.http import AuthFailed, StreamLost
from drivers.intercom.observations import (
    Call,
    Card,
    Code,
    Door,
    Input,
    Observation,
    Tamper,
    Unknown,
)
from drivers.intercom.settings import Intercom
from drivers.intercom.twon import TwoN
from edgectl.domain import (
    Command,
    CredentialPresented,
    DeviceOffline,
    DeviceOnline,
    Event,
    IntercomAuthFailed,
    IntercomDoor,
    IntercomInput,
    IntercomOpenFailed,
    IntercomSignal,
    IntercomTamper,
    PulseRelay,
    ReaderFeedback,
)

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
MAX_UNKNOWN_KINDS = 32  # per intercom; further unknown names are counted as "other"


class Unconfirmed(DeviceError):
    """The device did not confirm an open within the intercom's ``timeout_s``."""

    code = "device_timeout"


class CredentialsRefused(DeviceError):
    """The device refused our credentials lately: an open is not even tried (each try would
    count towards the device locking the account)."""

    code = "device_auth_failed"


class Vendor(Protocol):
    def events(self, http: aiohttp.ClientSession) -> AsyncIterator[Observation]: ...

    async def open(self, http: aiohttp.ClientSession, relay: int) -> None: ...


VENDORS: dict[str, Callable[[Intercom], Vendor]] = {
    "2n": TwoN,
    "hikvision": Hikvision,
    "dahua": Dahua,
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class IntercomDriver:
    def __init__(self, settings: Intercom, *, clock: Clock = _utc_now) -> None:
        self.settings = settings
        self.id = settings.id
        self.clock = clock
        self.vendor = VENDORS[settings.vendor](settings)
        self.unknown: Counter[str] = Counter()
        self.online = False
        self._reported: bool | None = None  # the last online/offline emitted, if any
        self._http: aiohttp.ClientSession | None = None
        self._emit: Emit | None = None
        self._backoff = settings.backoff_base_s
        self._auth_refused_until = 0.0  # monotonic

    @property
    def devices(self) -> frozenset[str]:
        owned = {self.id}
        if self.settings.drives_door:
            owned.add(self.settings.door)
        return frozenset(owned)

    def health(self) -> Health:
        return Health(self.online)

    # --- the event stream ----------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        async with http.session(self.settings) as client:
            self._http = client
            try:
                while True:
                    delay = await self._session(client, emit)
                    await asyncio.sleep(delay)
            finally:
                self._http = None

    async def _session(self, client: aiohttp.ClientSession, emit: Emit) -> float:
        """Read the stream until it fails; return how long to wait before the next try."""
        s = self.settings
        try:
            async for observation in self.vendor.events(client):
                if not self.online:
                    self.online = self._reported = True
                    self._auth_refused_until = 0.0
                    self._backoff = s.backoff_base_s
                    emit(DeviceOnline(source=self.id, at=self.clock()))
                    log.info("intercom_online", intercom=self.id, vendor=s.vendor)
                self._observe(observation, emit)
            error = "the event stream ended"
        except AuthFailed as exc:
            delay = s.auth_backoff_s
            self._auth_refused_until = time.monotonic() + delay
            log.error("intercom_auth_failed", intercom=self.id, retry_in_s=delay)
            emit(IntercomAuthFailed(source=self.id, at=self.clock(), retry_in_s=delay))
            self._offline(emit, str(exc), delay, "auth")
            return delay
        except aiohttp.ServerFingerprintMismatch as exc:
            error = f"certificate fingerprint mismatch: got sha256 {exc.got.hex()}"
        except (StreamLost, aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = str(exc) or type(exc).__name__
        delay = self._backoff * random.uniform(0.8, 1.2)
        self._backoff = min(s.backoff_max_s, self._backoff * 2)
        self._offline(emit, error, delay, "lost")
        return delay

    def _offline(self, emit: Emit, error: str, delay: float, reason: str) -> None:
        metrics.RECONNECTS.labels(self.id, reason).inc()
        log.warning("intercom_stream_lost", intercom=self.id, error=error, retry_in_s=delay)
        self.online = False
        if self._reported is not False or reason == "auth":
            self._reported = False
            emit(DeviceOffline(source=self.id, at=self.clock(), error=error, retry_in_s=delay))

    def _observe(self, observation: Observation, emit: Emit) -> None:
        now = self.clock()
        event: Event | None = None
        if isinstance(observation, Call):
            event = IntercomSignal(source=self.id, at=now, state=observation.state)
        elif isinstance(observation, Card):
            event = CredentialPresented(
                source=self.id, at=now, format="intercom", facility=None,
                number=observation.number, bits=0,
            )  # fmt: skip
        elif isinstance(observation, Code):
            event = CredentialPresented(
                source=self.id, at=now, format="pin", facility=None, number=0, bits=0,
                pin=observation.code,
            )  # fmt: skip
        elif isinstance(observation, Tamper):
            event = IntercomTamper(source=self.id, at=now)
        elif isinstance(observation, Door):
            state = "open" if observation.open else "closed"
            event = IntercomDoor(source=self.id, at=now, target=self.settings.target, state=state)
        elif isinstance(observation, Input):
            event = IntercomInput(
                source=self.id, at=now, input=observation.input, active=observation.active
            )
        elif isinstance(observation, Unknown):
            kind = observation.kind  # named by the device: the distinct names kept are bounded
            if kind not in self.unknown and len(self.unknown) >= MAX_UNKNOWN_KINDS:
                kind = "other"
            self.unknown[kind] += 1
            metrics.UNKNOWN_EVENTS.labels(self.id, kind).inc()
            log.info(
                "intercom_event_ignored",
                intercom=self.id,
                kind=kind,
                malformed=observation.malformed,
                count=self.unknown[kind],
            )
        if event is not None:
            emit(event)

    # --- commands --------------------------------------------------------------------------

    async def execute(self, command: Command) -> None:
        if isinstance(command, ReaderFeedback) and command.target == self.id:
            return  # the intercom shows its own feedback for its relay
        s = self.settings
        if not (isinstance(command, PulseRelay) and s.drives_door and command.target == s.door):
            raise DeviceError(f"{self.id} cannot carry out {command.KIND} on {command.target}")
        try:
            await self._open()
        except DeviceError as exc:
            code = getattr(exc, "code", "device_error")
            log.warning("intercom_open_failed", intercom=self.id, code=code, error=str(exc))
            if self._emit is not None:
                self._emit(
                    IntercomOpenFailed(
                        source=self.id, at=self.clock(), target=s.door, code=code, error=str(exc)
                    )
                )
            raise

    async def _open(self) -> None:
        client = self._http
        if client is None:
            raise DeviceError(f"{self.id} is not running")
        wait = self._auth_refused_until - time.monotonic()
        if wait > 0:
            raise CredentialsRefused(
                f"{self.id} refused our credentials; not retried for {wait:.0f}s "
                "(so the device does not lock the account)"
            )
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await self.vendor.open(client, self.settings.relay)
        except TimeoutError:
            raise Unconfirmed(
                f"{self.id} did not confirm the open within {self.settings.timeout_s:g}s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeviceError(f"{self.id}: {exc or type(exc).__name__}") from None
