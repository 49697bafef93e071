"""The reference hub refuses bad tokens, malformed batches and gaps with defined error bodies."""

from __future__ import annotations

import gzip
import json
from typing import Any

import aiohttp
import pytest

from sync.codec import encode_batch
from sync.hub.store import HubStore
from sync.outbox import gaps
from tests.conftest import RefHub

EPOCH = "00000000000000e1"


def batch(
    from_seq: int,
    to_seq: int,
    seqs: list[int] | None = None,
    site: str = "site-a",
    epoch: str = EPOCH,
) -> bytes:
    seqs = list(range(from_seq, to_seq + 1)) if seqs is None else seqs
    envs = [
        json.dumps(
            {
                "seq": s,
                "at": "2026-01-01T00:00:00+00:00",
                "kind": "gate_state",
                "class": "device",
                "source": "gate-1",
                "body": {"state": "open"},
                "schema_version": 1,
            }
        )
        for s in seqs
    ]
    held = sorted({s for s in seqs if from_seq <= s <= to_seq})
    return encode_batch(site, epoch, from_seq, to_seq, envs, gaps(from_seq, to_seq, held))


async def call(
    hub: RefHub,
    method: str,
    path: str,
    token: str | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> tuple[int, dict[str, Any]]:
    hdrs = {"Authorization": f"Bearer {token if token is not None else hub.token}"}
    if data is not None:
        hdrs["Content-Encoding"] = "gzip"
    hdrs.update(headers or {})
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.request(method, hub.url + path, data=data, headers=hdrs, **kw) as resp:
            return resp.status, json.loads(await resp.read())


EVENTS = "/v1/sites/site-a/events"


def assert_error(status: int, doc: dict[str, Any], want_status: int, code: str, text: str) -> None:
    assert status == want_status, doc
    assert doc["error"]["code"] == code
    assert text in doc["error"]["message"]


async def test_bad_token_and_wrong_site_are_refused(ref_hub: RefHub) -> None:
    assert_error(
        *await call(ref_hub, "POST", EVENTS, "nope", batch(1, 2)), 401, "unauthorized", "unknown"
    )
    assert_error(
        *await call(ref_hub, "GET", "/v1/sites/site-a/changes", ""), 401, "unauthorized", "missing"
    )
    store = HubStore(ref_hub.db)
    other = store.add_site("site-b")
    store.close()
    assert_error(
        *await call(ref_hub, "POST", EVENTS, other, batch(1, 2)), 403, "forbidden", "site-a"
    )
    assert (await call(ref_hub, "GET", "/v1/sites/site-a/events/ack"))[1]["acked_seq"] == 0


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(b"{not json"), "not valid JSON"),
        (gzip.compress(b"[1, 2]"), "expected an object"),
        (
            gzip.compress(
                b'{"site": "site-a", "epoch": "00000000000000e1", "from_seq": 3, "to_seq": 1, '
                b'"events": []}'
            ),
            "to_seq",
        ),
        (batch(1, 3, [1, 3, 2]), "events[2].seq: not increasing"),
        (batch(1, 2, [1, 5]), "events[1].seq: 5 outside [1, 2]"),
        (batch(1, 2, site="site-b"), "batch names 'site-b'"),
        (gzip.compress(gzip.compress(b"x") * 2), "not valid"),
    ],
)
async def test_malformed_batches_are_refused(ref_hub: RefHub, body: bytes, text: str) -> None:
    assert_error(*await call(ref_hub, "POST", EVENTS, data=body), 400, "malformed_batch", text)
    assert (await call(ref_hub, "GET", "/v1/sites/site-a/events/ack"))[1]["acked_seq"] == 0


async def test_dedupe_gap_and_contiguous_ack(ref_hub: RefHub) -> None:
    assert await call(ref_hub, "POST", EVENTS, data=batch(1, 10)) == (
        200,
        {"acked_seq": 10, "stored": 10, "duplicates": 0},
    )
    assert await call(ref_hub, "POST", EVENTS, data=batch(5, 15)) == (
        200,
        {"acked_seq": 15, "stored": 5, "duplicates": 6},
    )
    status, doc = await call(ref_hub, "POST", EVENTS, data=batch(20, 25))
    assert_error(status, doc, 409, "gap", "starts at seq 20 but the hub has only up to 15")
    assert doc["acked_seq"] == 15


async def test_other_defined_errors(ref_hub: RefHub) -> None:
    status, doc = await call(
        ref_hub, "POST", EVENTS, data=b"x", headers={"Content-Encoding": "identity"}
    )
    assert_error(status, doc, 415, "unsupported_encoding", "gzip")
    assert_error(*await call(ref_hub, "GET", "/v1/nowhere"), 404, "not_found", "")
    assert_error(
        *await call(ref_hub, "GET", "/v1/sites/site-a/changes?after=x"), 400, "bad_request", "after"
    )
    path = "/v1/sites/site-a/workorders/WO-1/status"
    good = {"update_id": "u1", "status": "done", "at": "2026-01-01T00:00:00+00:00"}
    assert_error(*await call(ref_hub, "POST", path, json=good), 404, "not_found", "WO-1")
    assert_error(
        *await call(ref_hub, "POST", path, json={**good, "at": "yesterday"}),
        400,
        "bad_request",
        "at",
    )
    big = gzip.compress(b"0" * (20 * 1024 * 1024), compresslevel=1) + b"x" * (17 * 1024 * 1024)
    assert_error(*await call(ref_hub, "POST", EVENTS, data=big), 413, "payload_too_large", "")
