"""Reading a multipart event stream (Hikvision, Dahua) into observations, bounded in time
(a silent stream is lost after ``stall_s``) and in memory (parts over ``max_part_bytes``
are skipped as they stream past)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp

from drivers.intercom.http import StreamLost, check_auth
from drivers.intercom.multipart import MultipartParser, Part, boundary_of
from drivers.intercom.observations import Heartbeat, Observation, Unknown
from drivers.intercom.settings import Intercom

Decode = Callable[[Part], list[Observation]]


async def multipart_events(
    response: aiohttp.ClientResponse, settings: Intercom, decode: Decode
) -> AsyncIterator[Observation]:
    content_type = response.headers.get("Content-Type", "")
    boundary = boundary_of(content_type)
    if not content_type.lower().startswith("multipart/") or boundary is None:
        raise StreamLost(f"expected a multipart stream with a boundary, got {content_type!r}")
    parser = MultipartParser(boundary, settings.max_part_bytes)
    while True:
        try:
            chunk = await asyncio.wait_for(response.content.readany(), settings.stall_s)
        except TimeoutError:
            raise StreamLost(f"no data for {settings.stall_s:g}s") from None
        if not chunk:
            raise StreamLost("the device closed the event stream")
        for item in parser.feed(chunk):
            if isinstance(item, Part):
                for observation in decode(item):
                    yield observation
            else:
                yield Unknown(f"part_{item.reason}", malformed=True)


async def multipart_stream(
    http: aiohttp.ClientSession, path: str, settings: Intercom, decode: Decode
) -> AsyncIterator[Observation]:
    """GET ``path``, then its parts' observations; a Heartbeat first once connected."""
    async with http.get(path) as response:
        check_auth(response)
        if response.status != 200:
            raise StreamLost(f"{path.split('?')[0]}: HTTP {response.status}")
        yield Heartbeat()  # connected: the device is online
        async for observation in multipart_events(response, settings, decode):
            yield observation
