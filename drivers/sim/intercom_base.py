"""What the three simulated intercoms share: an aiohttp server behind digest auth, a door
relay a test can check, injectable events and faults, and the fan-out of events to every
open event stream.

A vendor module (``intercom_2n``, ``intercom_hikvision``, ``intercom_dahua``) adds its
routes and encodes ``SimEvent``s in its own wire format. Tests drive the device with the
``press_button``/``card``/``code``/... methods and read ``relay``/``opens`` back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from drivers.sim.digest_server import DigestGuard


@dataclass(frozen=True, slots=True)
class SimEvent:
    """A device event before encoding: ``kind`` call, card, code, tamper, door, input,
    unknown."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes written into event streams verbatim (malformed, truncated or huge parts)."""

    payload: bytes
    then_close: bool = False


@dataclass
class Faults:
    refuse_open: bool = False  # the device answers the open with an error
    hang_open: bool = False  # the device never answers the open
    stall: bool = False  # event streams go silent (no events, no heartbeats)


class SimIntercom:
    """Base of the simulated intercoms. ``await start()`` returns the base URL."""

    realm = "sim-intercom"

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "sim-secret",
        pulse_s: float = 0.5,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.guard = DigestGuard(username, password, self.realm)
        self.faults = Faults()
        self.pulse_s = pulse_s
        self.heartbeat_s = heartbeat_s
        self.relay: dict[int, bool] = {}  # relay number -> energised now
        self.opens: list[int] = []  # every relay opened, in order
        self.streams = 0  # event streams opened so far (reconnects show here)
        self._queues: set[asyncio.Queue[SimEvent | Raw | None]] = set()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> str:
        app = web.Application(middlewares=[self.guard.middleware])
        self.routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        bound = sock.getsockname()[1]
        self.url = f"{'https' if ssl_context else 'http'}://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        self._close_streams()
        for task in self._tasks:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the relay ---------------------------------------------------------------------

    def pulse(self, relay: int) -> None:
        """Energise ``relay`` for ``pulse_s`` (the strike opens), as the device does: its
        door sensor reports the door open now and closed when the relay drops."""
        self.relay[relay] = True
        self.opens.append(relay)
        self.emit(SimEvent("door", {"relay": relay, "open": True}))
        asyncio.get_running_loop().call_later(self.pulse_s, self._release, relay)

    def _release(self, relay: int) -> None:
        self.relay[relay] = False
        self.emit(SimEvent("door", {"relay": relay, "open": False}))

    async def open_fault(self) -> str | None:
        """Apply the open faults: hang forever, or return a refusal message."""
        if self.faults.hang_open:
            await asyncio.Event().wait()
        return "door refused by the device" if self.faults.refuse_open else None

    # --- events ------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[SimEvent | Raw | None]:
        queue: asyncio.Queue[SimEvent | Raw | None] = asyncio.Queue()
        self._queues.add(queue)
        self.streams += 1
        return queue

    def unsubscribe(self, queue: asyncio.Queue[SimEvent | Raw | None]) -> None:
        self._queues.discard(queue)

    def emit(self, item: SimEvent | Raw) -> None:
        for queue in self._queues:
            queue.put_nowait(item)

    def _close_streams(self) -> None:
        for queue in self._queues:
            queue.put_nowait(None)
        self._queues.clear()

    # what a visitor or an installer does at the device
    def press_button(self) -> None:
        self.emit(SimEvent("call", {"state": "ringing"}))

    def answer(self) -> None:
        self.emit(SimEvent("call", {"state": "answered"}))

    def hang_up(self) -> None:
        self.emit(SimEvent("call", {"state": "ended"}))

    def card(self, number: int) -> None:
        self.emit(SimEvent("card", {"number": number}))

    def code(self, code: str) -> None:
        self.emit(SimEvent("code", {"code": code}))

    def tamper(self) -> None:
        self.emit(SimEvent("tamper"))

    def input(self, number: int, active: bool = True) -> None:
        """Logic input ``number`` (1, 2, ...) goes active (or inactive)."""
        self.emit(SimEvent("input", {"input": number, "active": active}))

    def unknown(self, name: str = "FutureEvent") -> None:
        self.emit(SimEvent("unknown", {"name": name}))

    def raw(self, payload: bytes, *, then_close: bool = False) -> None:
        self.emit(Raw(payload, then_close))

    def reboot(self) -> None:
        """Drop every stream and forget subscriptions and nonces, as a restart does."""
        self.guard.forget_nonces()
        self._close_streams()
        self.forget_subscriptions()

    def forget_subscriptions(self) -> None:
        """Vendors with server-side subscriptions (2N) drop them here."""

    async def next_item(
        self, queue: asyncio.Queue[SimEvent | Raw | None], timeout: float
    ) -> SimEvent | Raw | bool | None:
        """The next queued item; False after ``timeout`` with nothing (time for a heartbeat)."""
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            return False

    async def stalled(self) -> None:
        """While ``faults.stall`` is set, the stream sends nothing at all."""
        while self.faults.stall:
            await asyncio.sleep(0.05)


class MultipartStream:
    """Writes one multipart event stream (Hikvision, Dahua) until the device closes it."""

    def __init__(self, device: SimIntercom, boundary: str, content_type: str) -> None:
        self.device = device
        self.boundary = boundary
        self.content_type = f"{content_type}; boundary={boundary}"

    def part(self, content_type: str, body: bytes) -> bytes:
        head = f"--{self.boundary}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body + b"\r\n"

    async def serve(
        self,
        request: web.Request,
        encode: Callable[[SimEvent], bytes],
        heartbeat: Callable[[], bytes],
    ) -> web.StreamResponse:
        device = self.device
        response = web.StreamResponse(
            headers={"Content-Type": self.content_type, "Cache-Control": "no-cache"}
        )
        queue = device.subscribe()  # before the headers: an event right after them is seen
        try:
            await response.prepare(request)
            while True:
                await device.stalled()
                item = await device.next_item(queue, device.heartbeat_s)
                if item is None:
                    break
                if item is False:
                    if not device.faults.stall:
                        await response.write(heartbeat())
                    continue
                if isinstance(item, Raw):
                    await response.write(item.payload)
                    if item.then_close:
                        break
                    continue
                assert isinstance(item, SimEvent)
                await response.write(encode(item))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            device.unsubscribe(queue)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            transport = request.transport
            if transport is not None:
                transport.close()
        return response
