"""Live reader reads for an installer: ``readers watch`` and ``cards enroll``.

The daemon owns the reader ports, so while it runs the reads come from it: ``ReadTap``
wraps the drivers' ``emit`` and fans each ``CredentialPresented`` and ``BadRead`` out to
listeners; ``GET /v1/reads[?reader=ID]`` on the control socket streams them as JSON lines.
When no daemon runs, ``direct_reads`` opens the reader ports itself with the same driver.

A read never carries a PIN: keypad entries are reported as ``{"kind": "keypad"}``. Both
sources first yield ``{"kind": "listening", "reader": ...}`` once reads will be seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from aiohttp import web

from drivers.base import DeviceError, Emit
from drivers.wiegand.settings import Reader
from edgectl.control_client import READS_URL
from edgectl.domain import BadRead, CredentialPresented, DeviceOnline, Event


def read_json(event: CredentialPresented | BadRead) -> dict[str, Any]:
    """One read as an installer sees it (times in UTC ISO form)."""
    head = {"reader": event.source, "at": event.at.isoformat()}
    if isinstance(event, BadRead):
        return head | {"kind": "bad", "reason": event.reason, "line": event.line}
    if event.format == "pin" or event.pin is not None:
        return head | {"kind": "keypad"}
    return head | {
        "kind": "card",
        "format": event.format,
        "facility": event.facility,
        "number": event.number,
        "bits": event.bits,
    }


class ReadTap:
    """Fans reads out to listeners (each a bounded queue: a slow one loses reads)."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[dict[str, Any]]] = set()

    def wrap(self, emit: Emit) -> Emit:
        """An ``emit`` that hands every event on to ``emit`` and reads to listeners."""

        def tapped(event: Event) -> None:
            emit(event)
            if self._listeners and isinstance(event, (CredentialPresented, BadRead)):
                read = read_json(event)
                for q in self._listeners:
                    with contextlib.suppress(asyncio.QueueFull):
                        q.put_nowait(read)

        return tapped

    @contextlib.contextmanager
    def listen(self) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(1000)
        self._listeners.add(q)
        try:
            yield q
        finally:
            self._listeners.discard(q)

    def add_route(self, app: web.Application, readers: Iterable[str]) -> None:
        known = sorted(readers)

        async def stream(request: web.Request) -> web.StreamResponse:
            wanted = request.query.get("reader", "")
            if wanted and wanted not in known:
                message = f"no reader {wanted!r}; configured: {', '.join(known)}"
                return web.json_response(
                    {"status": "error", "code": "unknown_device", "message": message}, status=404
                )
            resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            with self.listen() as q:  # listening before the client hears the reply
                await resp.prepare(request)
                while True:
                    read = await q.get()
                    if wanted and read["reader"] != wanted:
                        continue
                    try:
                        await resp.write(json.dumps(read).encode() + b"\n")
                    except ConnectionResetError:  # the client left (enrolled, or Ctrl-C)
                        return resp

        app.router.add_get(READS_URL, stream)


async def direct_reads(readers: Iterable[Reader]) -> AsyncIterator[dict[str, Any]]:
    """Open each reader's port (no daemon runs) and yield its reads; a port that cannot
    be opened raises DeviceError naming it."""
    from drivers.wiegand.reader import WiegandReaderDriver

    q: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()

    def emit(event: Event) -> None:
        if isinstance(event, (CredentialPresented, BadRead)):
            q.put_nowait(read_json(event))
        elif isinstance(event, DeviceOnline):  # the port is open: reads from now on
            q.put_nowait({"kind": "listening", "reader": event.source})

    async def run(driver: WiegandReaderDriver) -> None:
        try:
            await driver.run(emit)
        except (DeviceError, OSError) as exc:
            q.put_nowait(exc)

    tasks = [asyncio.create_task(run(WiegandReaderDriver(r))) for r in readers]
    try:
        while True:
            item = await q.get()
            if isinstance(item, BaseException):
                raise DeviceError(str(item))
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
