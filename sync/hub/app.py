"""The reference hub's HTTP API (aiohttp): the whole of ``sync/openapi.yaml``.

Every error is ``{"error": {"code", "message"}}`` with the HTTP status the contract names,
including the errors aiohttp answers itself (unknown path, wrong method with ``Allow``, a
request line or header too large). A 500 never carries exception text: it is logged.
A site authenticates with its bearer token, or with a client certificate whose common name
is the site id when the hub is served with mutual TLS; a disabled site gets 401 either way.

The SQLite store runs on one worker thread (``HubDb``) and batches are decoded on another,
so a large batch never stalls the event loop, and with it every other site.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from rules.access import pin_key_id
from sync.codec import (
    CONTRACT_VERSION,
    MAX_DECODED_BYTES,
    SITE,
    BatchError,
    TooLarge,
    decode_batch,
    loads_bounded,
    parse_int64,
    parse_time,
)
from sync.hub import evidence
from sync.hub.store import HubError, HubStore

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = MAX_DECODED_BYTES
MAX_PAGE = 5000
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    431: "bad_request",
}
_TEXT_LIMITS = {"update_id": 128, "status": 32, "at": 64, "by": 128, "note": 2000}

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HubDb:
    """The hub store, owned by one worker thread: every call runs there, one at a time."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-db")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(store, *args)`` on the worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, self.store, *args))

    def close(self) -> None:
        self._pool.submit(self.store.close)
        self._pool.shutdown(wait=True)


DB: web.AppKey[HubDb] = web.AppKey("db", HubDb)


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}, **extra}, status=status)


def _http_error(status: int, message: str) -> web.Response:
    code = _HTTP_CODES.get(status, "internal" if status >= 500 else "bad_request")
    return error(status, code, message or HTTPStatus(status).phrase)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        return error(exc.status, exc.code, str(exc), **exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        resp = _http_error(exc.status, exc.reason)
        if "Allow" in exc.headers:
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    except Exception:
        log.exception("hub_internal_error", path=request.path)
        return error(500, "internal", "the hub failed on this request; it is logged at the hub")


class _JsonErrorHandler(RequestHandler):
    """aiohttp's own answers to unparseable requests, as the contract's Error body."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs, and checks nothing was sent
        text = (message or "").strip().splitlines()[0][:80] if message else ""
        if status >= 500:
            text = "the hub failed on this request; it is logged at the hub"
        resp = _http_error(status, f"request refused before routing: {text}")
        resp.force_close()
        return resp


class _JsonErrorServer(Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class HubRunner(web.AppRunner):
    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        return server


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
    if not SITE.fullmatch(site):
        raise HubError(400, "bad_request", "site: expected 1..64 of A-Z a-z 0-9 _ -")
    db = request.app[DB]
    caller = _peer_site(request)
    if caller is not None:
        if caller == site and not await db.call(HubStore.enabled, caller):
            raise HubError(401, "unauthorized", f"site {caller!r} is unknown or disabled")
    else:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HubError(401, "unauthorized", "missing bearer token (Authorization: Bearer ...)")
        caller = await db.call(HubStore.site_for_token, token.strip())
        if caller is None:
            raise HubError(401, "unauthorized", "unknown or revoked token, or a disabled site")
    if caller != site:
        raise HubError(403, "forbidden", f"this credential belongs to another site, not {site!r}")
    return await handler(request)


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = parse_int64(raw, name, lo)
    except ValueError:
        value = -1
    if not lo <= value <= hi:
        raise HubError(
            400, "bad_request", f"{name}: expected an integer {lo}..{hi}, got {raw!r:.40}"
        )
    return value


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "contract": CONTRACT_VERSION})


async def post_events(request: web.Request) -> web.Response:
    site = request.match_info["site"]
    if request.headers.get("Content-Encoding", "").lower() != "gzip":
        raise HubError(415, "unsupported_encoding", "event batches must be Content-Encoding: gzip")
    body = await request.read()
    try:
        batch = await asyncio.get_running_loop().run_in_executor(None, decode_batch, body)
    except TooLarge as exc:
        raise HubError(413, "payload_too_large", str(exc)) from None
    except BatchError as exc:
        raise HubError(400, "malformed_batch", str(exc)) from None
    if batch.site != site:
        raise HubError(400, "malformed_batch", f"site: batch names {batch.site!r}, path {site!r}")
    done = await request.app[DB].call(HubStore.ingest, site, batch)
    return web.json_response(
        {"acked_seq": done.acked_seq, "stored": done.stored, "duplicates": done.duplicates}
    )


async def get_ack(request: web.Request) -> web.Response:
    site = request.match_info["site"]
    db = request.app[DB]
    return web.json_response(
        {
            "acked_seq": await db.call(HubStore.acked, site),
            "epoch": await db.call(HubStore.epoch, site),
        }
    )


async def get_changes(request: web.Request) -> web.Response:
    after = _int_param(request, "after", 0, 0, 2**63 - 1)
    limit = _int_param(request, "limit", 1000, 1, MAX_PAGE)
    site = request.match_info["site"]
    changes, cursor, more = await request.app[DB].call(HubStore.changes, site, after, limit)
    return web.json_response({"changes": changes, "next_cursor": cursor, "more": more})


async def get_snapshot(request: web.Request) -> web.Response:
    cursor, records = await request.app[DB].call(HubStore.snapshot, request.match_info["site"])
    return web.json_response({"cursor": cursor, "records": records})


async def get_pin_key(request: web.Request) -> web.Response:
    key = await request.app[DB].call(HubStore.pin_key, request.match_info["site"])
    return web.json_response({"key": base64.b64encode(key).decode(), "key_id": pin_key_id(key)})


async def get_workorders(request: web.Request) -> web.Response:
    after = _int_param(request, "after", 0, 0, 2**63 - 1)
    limit = _int_param(request, "limit", 1000, 1, MAX_PAGE)
    site = request.match_info["site"]
    orders, cursor, more = await request.app[DB].call(HubStore.workorders, site, after, limit)
    return web.json_response({"workorders": orders, "next_cursor": cursor, "more": more})


def _status_update(raw: bytes) -> dict[str, Any]:
    try:
        doc = loads_bounded(raw)
    except BatchError as exc:
        raise HubError(400, "bad_request", f"body: {exc}") from None
    if not isinstance(doc, dict):
        raise HubError(400, "bad_request", "body: expected an object")
    for key, limit in _TEXT_LIMITS.items():
        value = doc.get(key, "")
        required = key in ("update_id", "status", "at")
        if not isinstance(value, str) or (required and not value) or len(value) > limit:
            raise HubError(400, "bad_request", f"{key}: expected a string of at most {limit}")
    try:
        parse_time(doc["at"])
    except ValueError as exc:
        raise HubError(400, "bad_request", f"at: {exc}") from None
    return doc


async def post_status(request: web.Request) -> web.Response:
    doc = _status_update(await request.read())
    site, order = request.match_info["site"], request.match_info["order"]
    if len(order) > 128:
        raise HubError(400, "bad_request", "order: at most 128 characters")
    db = request.app[DB]
    applied = await db.call(HubStore.set_status, site, order, doc)
    return web.json_response(
        {"applied": applied, "workorder": await db.call(HubStore.workorder, site, order)}
    )


def make_app(store: HubStore, *, max_body: int = MAX_BODY_BYTES) -> web.Application:
    """The hub application; it owns ``store`` (closed with the app)."""
    app = web.Application(
        client_max_size=max_body,
        middlewares=[errors, auth],
        handler_args={"auto_decompress": False},
    )
    app[DB] = HubDb(store)

    async def close(app: web.Application) -> None:
        app[DB].close()

    app.on_cleanup.append(close)
    prefix = "/v1/sites/{site}"
    app.router.add_get("/v1/health", health)
    app.router.add_post(f"{prefix}/events", post_events)
    app.router.add_get(f"{prefix}/events/ack", get_ack)
    app.router.add_get(f"{prefix}/changes", get_changes)
    app.router.add_get(f"{prefix}/snapshot", get_snapshot)
    app.router.add_get(f"{prefix}/pin-key", get_pin_key)
    app.router.add_get(f"{prefix}/workorders", get_workorders)
    app.router.add_post(f"{prefix}/workorders/{{order}}/status", post_status)
    evidence.register(app, DB)
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
    db: Path | str,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    on_app: Callable[[web.Application], None] | None = None,
) -> web.AppRunner:
    """Start serving; ``await runner.cleanup()`` stops (the store closes with it).

    ``on_app`` may add signal handlers before the app is frozen (the contract tests use it
    to validate every response).
    """
    app = make_app(HubStore(db))
    if on_app is not None:
        on_app(app)
    runner = HubRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    log.info("hub_listening", host=host, port=port, db=str(db), tls=ssl_context is not None)
    return runner
