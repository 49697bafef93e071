"""The CLI's side of the daemon's control socket (``edgectl/control.py``).

aiohttp is imported on the first call, not with this module: most CLI commands never talk
to the daemon, and importing aiohttp (it builds its TLS contexts at import) is a good part
of a CLI call's start-up (docs/bench-first-hour.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from drivers.base import DeviceError

READS_URL = "/v1/reads"


async def request(
    path: str, method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, Any]]:
    """Call the daemon's control API; raise OSError if no daemon listens at ``path``."""
    import aiohttp

    conn = aiohttp.UnixConnector(path=path)
    async with aiohttp.ClientSession(
        connector=conn, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        try:
            async with session.request(method, f"http://edgectl{url}", json=body) as resp:
                return resp.status, await resp.json()
        except aiohttp.ClientConnectionError as exc:
            raise OSError(str(exc)) from exc


async def daemon_reads(socket_path: str, reader: str = "") -> AsyncIterator[dict[str, Any]]:
    """Live reads from the running daemon; OSError if none listens at ``socket_path``."""
    import aiohttp

    url = f"http://edgectl{READS_URL}" + (f"?reader={reader}" if reader else "")
    conn = aiohttp.UnixConnector(path=socket_path)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        try:
            resp = await session.get(url)
        except aiohttp.ClientConnectionError as exc:
            raise OSError(str(exc)) from exc
        async with resp:
            if resp.status != 200:
                body = await resp.json()
                raise DeviceError(body.get("message", f"daemon replied {resp.status}"))
            yield {"kind": "listening", "reader": reader or "*"}
            async for line in resp.content:
                yield json.loads(line)
