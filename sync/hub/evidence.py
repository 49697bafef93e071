"""The reference hub's evidence route: thumbnails of sites' evidence frames.

Kept apart from ``app.py`` (one route, one table): ``register(app)`` adds
``POST``/``GET /v1/sites/{site}/evidence/{evidence}``. Thumbnails live in the hub's own
SQLite database, in table ``evidence``, one row per (site, evidence id).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from aiohttp import web

from edgectl.store.evidence import ID, is_jpeg
from sync.hub.store import HubError, HubStore

MAX_THUMBNAIL_BYTES = 1024 * 1024
SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    site TEXT NOT NULL,
    id TEXT NOT NULL,
    jpeg BLOB NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (site, id)
)
"""


def _conn(request: web.Request, key: web.AppKey[HubStore]) -> sqlite3.Connection:
    conn: sqlite3.Connection = request.app[key].conn
    return conn


def _evidence_id(request: web.Request) -> str:
    evidence_id = request.match_info["evidence"]
    if not ID.match(evidence_id):
        raise HubError(400, "bad_request", f"evidence: not an evidence id: {evidence_id!r}")
    return evidence_id


def register(app: web.Application, key: web.AppKey[HubStore]) -> None:
    app[key].conn.execute(SCHEMA)

    async def post(request: web.Request) -> web.Response:
        evidence_id = _evidence_id(request)
        if (request.content_length or 0) > MAX_THUMBNAIL_BYTES:
            raise HubError(
                413, "payload_too_large", f"thumbnails are at most {MAX_THUMBNAIL_BYTES} bytes"
            )
        body = await request.read()
        if len(body) > MAX_THUMBNAIL_BYTES:
            raise HubError(
                413, "payload_too_large", f"thumbnails are at most {MAX_THUMBNAIL_BYTES} bytes"
            )
        if not is_jpeg(body):
            raise HubError(400, "bad_request", "body: expected a JPEG (image/jpeg)")
        cur = _conn(request, key).execute(
            "INSERT OR IGNORE INTO evidence (site, id, jpeg, received_at) VALUES (?, ?, ?, ?)",
            (request.match_info["site"], evidence_id, body, datetime.now(UTC).isoformat()),
        )
        return web.json_response(
            {"evidence_id": evidence_id, "stored": cur.rowcount == 1, "bytes": len(body)}
        )

    async def get(request: web.Request) -> web.Response:
        evidence_id = _evidence_id(request)
        row = (
            _conn(request, key)
            .execute(
                "SELECT jpeg FROM evidence WHERE site = ? AND id = ?",
                (request.match_info["site"], evidence_id),
            )
            .fetchone()
        )
        if row is None:
            raise HubError(404, "not_found", f"no evidence {evidence_id!r}")
        return web.Response(body=row[0], content_type="image/jpeg")

    path = "/v1/sites/{site}/evidence/{evidence}"
    app.router.add_post(path, post)
    app.router.add_get(path, get)
