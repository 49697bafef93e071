"""The reference hub's HTTP API (aiohttp): the whole of ``sync/openapi.yaml``.

Every error is ``{"error": {"code", "message"}}`` with the HTTP status the contract names.
A site authenticates with its bearer token, or with a client certificate whose common name
is the site id when the hub is served with mutual TLS.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from sync.codec import BatchError, decode_batch
from sync.hub import evidence
from sync.hub.store import HubError, HubStore

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_PAGE = 5000
STORE: web.AppKey[HubStore] = web.AppKey("store", HubStore)
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}, **extra}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        return error(exc.status, exc.code, str(exc), **exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, _HTTP_CODES.get(exc.status, "error"), exc.text or exc.reason)
    except Exception as exc:
        log.exception("hub_internal_error", path=request.path)
        return error(500, "internal", f"{type(exc).__name__}: {exc}")


def _peer_site(request: web.Request) -> str | None:
    cert = request.transport.get_extra_info("peercert") if request.transport else None
    if not cert:
        return None
    subject = dict(pair for rdn in cert.get("subject", ()) for pair in rdn)
    return subject.get("commonName")


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    site = request.match_info.get("site")
    if site is None:
        return await handler(request)
    caller = _peer_site(request)
    if caller is None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HubError(401, "unauthorized", "missing bearer token (Authorization: Bearer ...)")
        caller = request.app[STORE].site_for_token(token.strip())
        if caller is None:
            raise HubError(401, "unauthorized", "unknown or revoked token")
    if caller != site:
        raise HubError(403, "forbidden", f"this credential belongs to another site, not {site!r}")
    return await handler(request)


def _int_param(request: web.Request, name: str, default: int, hi: int | None = None) -> int:
    raw = request.query.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise HubError(400, "bad_request", f"{name}: expected an integer, got {raw!r}") from None
    if value < 0 or (hi is not None and value > hi):
        raise HubError(400, "bad_request", f"{name}: expected 0..{hi or 'any'}, got {value}")
    return value


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def post_events(request: web.Request) -> web.Response:
    site = request.match_info["site"]
    if request.headers.get("Content-Encoding", "").lower() != "gzip":
        raise HubError(415, "unsupported_encoding", "event batches must be Content-Encoding: gzip")
    try:
        batch = decode_batch(await request.read())
    except BatchError as exc:
        raise HubError(400, "malformed_batch", str(exc)) from None
    if batch.site != site:
        raise HubError(400, "malformed_batch", f"site: batch names {batch.site!r}, path {site!r}")
    done = request.app[STORE].ingest(site, batch)
    return web.json_response(
        {"acked_seq": done.acked_seq, "stored": done.stored, "duplicates": done.duplicates}
    )


async def get_ack(request: web.Request) -> web.Response:
    return web.json_response({"acked_seq": request.app[STORE].acked(request.match_info["site"])})


async def get_changes(request: web.Request) -> web.Response:
    after = _int_param(request, "after", 0)
    limit = _int_param(request, "limit", 1000, MAX_PAGE) or 1
    changes, cursor, more = request.app[STORE].changes(request.match_info["site"], after, limit)
    return web.json_response({"changes": changes, "next_cursor": cursor, "more": more})


async def get_snapshot(request: web.Request) -> web.Response:
    cursor, records = request.app[STORE].snapshot(request.match_info["site"])
    return web.json_response({"cursor": cursor, "records": records})


async def get_workorders(request: web.Request) -> web.Response:
    after = _int_param(request, "after", 0)
    limit = _int_param(request, "limit", 1000, MAX_PAGE) or 1
    orders, cursor, more = request.app[STORE].workorders(request.match_info["site"], after, limit)
    return web.json_response({"workorders": orders, "next_cursor": cursor, "more": more})


async def post_status(request: web.Request) -> web.Response:
    try:
        doc = await request.json()
    except ValueError:
        raise HubError(400, "bad_request", "body: not valid JSON") from None
    if not isinstance(doc, dict):
        raise HubError(400, "bad_request", "body: expected an object")
    for key in ("update_id", "status", "at"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise HubError(400, "bad_request", f"{key}: expected a non-empty string")
    for key in ("by", "note"):
        if not isinstance(doc.get(key, ""), str):
            raise HubError(400, "bad_request", f"{key}: expected a string")
    try:
        if datetime.fromisoformat(doc["at"]).tzinfo is None:
            raise ValueError
    except ValueError:
        raise HubError(400, "bad_request", "at: expected an ISO 8601 time with zone") from None
    site, order = request.match_info["site"], request.match_info["order"]
    applied = request.app[STORE].set_status(site, order, doc)
    return web.json_response(
        {"applied": applied, "workorder": request.app[STORE].workorder(site, order)}
    )


def make_app(store: HubStore, *, max_body: int = MAX_BODY_BYTES) -> web.Application:
    app = web.Application(
        client_max_size=max_body,
        middlewares=[errors, auth],
        handler_args={"auto_decompress": False},
    )
    app[STORE] = store
    prefix = "/v1/sites/{site}"
    app.router.add_get("/v1/health", health)
    app.router.add_post(f"{prefix}/events", post_events)
    app.router.add_get(f"{prefix}/events/ack", get_ack)
    app.router.add_get(f"{prefix}/changes", get_changes)
    app.router.add_get(f"{prefix}/snapshot", get_snapshot)
    app.router.add_get(f"{prefix}/workorders", get_workorders)
    app.router.add_post(f"{prefix}/workorders/{{order}}/status", post_status)
    evidence.register(app, STORE)
    return app


def server_ssl(cert: str, key: str, client_ca: str = "") -> ssl.SSLContext:
    """Server TLS; with ``client_ca``, a client certificate (CN = site id) authenticates too."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


async def start(
    db: Path | str, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> web.AppRunner:
    """Start serving; ``await runner.cleanup()`` stops (the store closes with it)."""
    store = HubStore(db)
    app = make_app(store)

    async def close(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    log.info("hub_listening", host=host, port=port, db=str(db), tls=ssl_context is not None)
    return runner
