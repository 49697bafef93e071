"""A misbehaving hub (a tiny real aiohttp server): the client retries or rejects with a clear
error, never moves its cursor on a bad answer, applies nothing partially, loses nothing."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal
from sync.client import SyncClient
from sync.codec import CONTRACT_VERSION, decode_batch
from tests.conftest import free_port, site_config
from tests.sync_support import make_event, run_until


@dataclass
class Misbehaving:
    mode: str
    bad_left: int = 2  # misbehave on this many requests, starting with the 2nd batch
    from_seqs: list[int] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)

    async def events(self, request: web.Request) -> web.StreamResponse:
        batch = decode_batch(await request.read())
        self.from_seqs.append(batch.from_seq)
        if batch.from_seq > 1 and self.bad_left > 0:
            self.bad_left -= 1
            return await self.misbehave(request, batch.to_seq)
        self.stored.extend(e["seq"] for e in batch.events if e["seq"] > len(self.stored))
        return web.json_response({"acked_seq": batch.to_seq})

    async def misbehave(self, request: web.Request, to_seq: int) -> web.StreamResponse:
        if self.mode == "500":
            return web.Response(status=500, text="boom")
        if self.mode == "timeout":
            await asyncio.sleep(2)
        if self.mode == "malformed":
            return web.Response(text='{"acked_seq": 1', content_type="application/json")
        if self.mode == "huge":
            return web.Response(body=b" " * 3_000_000 + b"{}", content_type="application/json")
        if self.mode in ("gzip_ok", "gzip_bomb"):
            body = b'{"acked_seq": %d}' % to_seq if self.mode == "gzip_ok" else b" " * 5_000_000
            self.stored.extend(
                range(len(self.stored) + 1, to_seq + 1) if self.mode == "gzip_ok" else []
            )
            return web.Response(
                body=gzip.compress(body),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if self.mode == "never_sent":
            return web.json_response({"acked_seq": to_seq + 1000})
        if self.mode == "not_a_seq":
            return web.json_response({"acked_seq": "lots"})
        # "cut": promise a body, send part of it, drop the connection
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b'{"acked_seq": ')
        assert request.transport is not None
        request.transport.close()
        return resp

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "contract": CONTRACT_VERSION})

    async def pin_key(self, _: web.Request) -> web.Response:
        return web.json_response({"key": base64.b64encode(b"k" * 32).decode(), "key_id": "0" * 16})

    async def empty(self, request: web.Request) -> web.Response:
        key = "changes" if request.path.endswith("changes") else "workorders"
        return web.json_response({key: [], "next_cursor": 0, "more": False})


@pytest.fixture
async def bad_hub(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Misbehaving, str]]:
    hub = Misbehaving(request.param)
    app = web.Application(handler_args={"auto_decompress": False})
    app.router.add_get("/v1/health", hub.health)
    app.router.add_get("/v1/sites/site-a/pin-key", hub.pin_key)
    app.router.add_post("/v1/sites/site-a/events", hub.events)
    app.router.add_get("/v1/sites/site-a/changes", hub.empty)
    app.router.add_get("/v1/sites/site-a/workorders", hub.empty)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield hub, f"http://127.0.0.1:{port}"
    await runner.cleanup()


EXPECTED = {
    "500": "server_error",
    "timeout": "timeout",
    "cut": "transport",
    "malformed": "bad_response",
    "huge": "bad_response",
    "never_sent": "bad_ack",
    "not_a_seq": "bad_ack",
    "gzip_bomb": "bad_response",
}


@pytest.mark.parametrize("bad_hub", list(EXPECTED), indirect=True)
async def test_bad_hub_answers_are_retried_without_loss(
    tmp_path: Path, bad_hub: tuple[Misbehaving, str]
) -> None:
    hub, url = bad_hub
    cfg = site_config(
        tmp_path,
        url,
        "t",
        batch_max_events=10,
        # short only where the hub stalls on purpose: a busy CI box may take 0.5 s to answer
        timeout_s=0.5 if hub.mode == "timeout" else 10.0,
        backoff_base_s=0.02,
        backoff_max_s=0.1,
        max_response_bytes=1_000_000,
    )
    journal = Journal(cfg.store.path)
    await asyncio.gather(*(journal.append(make_event(i)) for i in range(50)))
    conn = connect(cfg.store.path)
    await run_until(SyncClient(cfg, cfg.store.path), lambda: kv.acked_seq(conn) == 50)
    assert hub.from_seqs == [1, 11, 11, 11, 21, 31, 41]  # the cursor never moved on a bad answer
    assert hub.stored == list(range(1, 51))
    failures = json.loads(kv.get(conn, kv.FAILURES))
    assert failures == {EXPECTED[hub.mode]: 2}
    last = json.loads(kv.get(conn, kv.LAST_ERROR))
    assert last["kind"] == EXPECTED[hub.mode]
    assert last["message"].startswith(("POST /events", "batch 11..20"))
    await journal.close()


@pytest.mark.parametrize("bad_hub", ["gzip_ok"], indirect=True)
async def test_gzip_answers_are_understood(
    tmp_path: Path, bad_hub: tuple[Misbehaving, str]
) -> None:
    hub, url = bad_hub
    cfg = site_config(tmp_path, url, "t", batch_max_events=10)
    journal = Journal(cfg.store.path)
    await asyncio.gather(*(journal.append(make_event(i)) for i in range(50)))
    conn = connect(cfg.store.path)
    await run_until(SyncClient(cfg, cfg.store.path), lambda: kv.acked_seq(conn) == 50)
    assert hub.from_seqs == [1, 11, 21, 31, 41] and hub.stored == list(range(1, 51))
    assert kv.get(conn, kv.FAILURES, "{}") == "{}"
    await journal.close()
