"""The reference hub's evidence route: thumbnails of sites' evidence frames.

Kept apart from ``app.py`` (one route, one table): ``register(app, key)`` adds
``POST``/``GET /v1/sites/{site}/evidence/{evidence}``. Thumbnails live in the hub's own
SQLite database, in table ``evidence`` (hub schema v3), one row per (site, evidence id). Like
every other route, its SQLite runs on the hub's database thread (``HubDb``), never on the
event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from edgectl.store.evidence import ID, is_jpeg
from sync.hub.store import HubError, HubStore

if TYPE_CHECKING:
    from sync.hub.app import HubDb  # which imports this module

MAX_THUMBNAIL_BYTES = 1024 * 1024


def _evidence_id(request: web.Request) -> str:
    evidence_id = request.match_info["evidence"]
    if not ID.match(evidence_id):
        raise HubError(400, "bad_request", f"evidence: not an evidence id: {evidence_id!r:.120}")
    return evidence_id


def _too_large() -> HubError:
    return HubError(413, "payload_too_large", f"thumbnails are at most {MAX_THUMBNAIL_BYTES} bytes")


def _store(store: HubStore, site: str, evidence_id: str, jpeg: bytes) -> bool:
    cur = store.conn.execute(
        "INSERT OR IGNORE INTO evidence (site, id, jpeg, received_at) VALUES (?, ?, ?, ?)",
        (site, evidence_id, jpeg, datetime.now(UTC).isoformat()),
    )
    return cur.rowcount == 1


def _load(store: HubStore, site: str, evidence_id: str) -> bytes | None:
    row = store.conn.execute(
        "SELECT jpeg FROM evidence WHERE site = ? AND id = ?", (site, evidence_id)
    ).fetchone()
    return bytes(row[0]) if row else None


def register(app: web.Application, key: web.AppKey[HubDb]) -> None:
    async def post(request: web.Request) -> web.Response:
        evidence_id = _evidence_id(request)
        if (request.content_length or 0) > MAX_THUMBNAIL_BYTES:
            raise _too_large()
        body = bytearray()  # read with a cap: a chunked body has no length to check first
        async for chunk in request.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > MAX_THUMBNAIL_BYTES:
                raise _too_large()
        if not is_jpeg(bytes(body)):
            raise HubError(400, "bad_request", "body: expected a JPEG (image/jpeg)")
        site = request.match_info["site"]
        stored = await request.app[key].call(_store, site, evidence_id, bytes(body))
        return web.json_response({"evidence_id": evidence_id, "stored": stored, "bytes": len(body)})

    async def get(request: web.Request) -> web.Response:
        evidence_id = _evidence_id(request)
        jpeg = await request.app[key].call(_load, request.match_info["site"], evidence_id)
        if jpeg is None:
            raise HubError(404, "not_found", f"no evidence {evidence_id!r}")
        return web.Response(body=jpeg, content_type="image/jpeg")

    path = "/v1/sites/{site}/evidence/{evidence}"
    app.router.add_post(path, post)
    app.router.add_get(path, get)
