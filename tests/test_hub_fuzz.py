"""A property-based run of generated requests against the reference hub (issue 12).

The generators are the contract's own schemas (sync/openapi.yaml via hypothesis-jsonschema):
path and query parameters, gzip event batches and status updates, mostly valid and sometimes
arbitrary text, with the site's token, another site's, or none. Every answer must be a
documented status for its operation, never a 5xx, and valid against the response schema.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.hub.store import HubStore
from tests.conftest import free_port
from tests.contract import SPEC, as_schema, problems, resolve
from tests.schema_strategies import component, from_schema

OPERATIONS = [
    (path, method)
    for path, item in SPEC["paths"].items()
    for method in item
    if method in ("get", "post")
]


@dataclass
class LiveHub:
    port: int
    tokens: dict[str, str]
    orders: list[str]
    evidence: list[str]


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """The hub served from a thread of its own (hypothesis runs examples synchronously)."""
    from sync.hub.app import start

    db = tmp_path_factory.mktemp("fuzz") / "hub.db"
    store = HubStore(db)
    tokens = {s: store.add_site(s) for s in ("site-a", "site-b")}
    store.put_record("site-a", "access_level", "all", {"targets": ["gate-1"]})
    store.put_record("site-a", "person", "p1", {"name": "A", "levels": ["all"]})
    store.put_record("site-a", "credential", 1, {"person_id": "p1", "kind": "pin", "pin": "1234"})
    store.delete_record("site-a", "group", "g-old")
    orders = [store.create_workorder("site-a", f"Order {i}")["id"] for i in range(3)]
    evidence = ["20260101T000000000000Z-cam1-0a0b0c", "20260101T000001000000Z-cam1-0d0e0f"]
    store.conn.execute(
        "INSERT INTO evidence VALUES ('site-a', ?, ?, '2026-01-01T00:00:00+00:00')",
        (evidence[0], JPEG),
    )
    store.close()
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner: Any = None

    async def serve() -> None:
        nonlocal runner
        runner = await start(db, "127.0.0.1", port)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    assert ready.wait(10)
    yield LiveHub(port, tokens, orders, evidence)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@st.composite
def requests(draw: st.DrawFn, hub: LiveHub) -> tuple[str, str, str, dict[str, str], bytes]:
    path, method = draw(st.sampled_from(OPERATIONS))
    op = SPEC["paths"][path][method]
    params = [resolve(p) for p in SPEC["paths"][path].get("parameters", [])]
    params += [resolve(p) for p in op.get("parameters", [])]
    url, query, headers = path, {}, {}
    for p in params:
        if p["in"] == "path":
            if p["name"] == "site":
                value = draw(
                    st.sampled_from(["site-a", "site-a", "site-b"]) | from_schema(p["schema"])
                )
            else:
                known = hub.evidence if p["name"] == "evidence" else hub.orders
                value = draw(st.sampled_from(known) | from_schema(p["schema"]))
            url = url.replace("{" + p["name"] + "}", urllib.parse.quote(str(value), safe=""))
        elif p["in"] == "query" and draw(st.booleans()):
            value = draw(from_schema(p["schema"]).map(str) | st.text(max_size=30))
            query[p["name"]] = value
    if query:
        url += "?" + urllib.parse.urlencode(query)
    who = _mostly(draw, "site-a", st.sampled_from(["site-b", "none"]))
    if who != "none":
        headers["Authorization"] = f"Bearer {hub.tokens[who]}"
    body = b""
    if "requestBody" in op and "image/jpeg" in op["requestBody"]["content"]:
        body = draw(jpegs)
        headers["Content-Type"] = "image/jpeg"
    elif "requestBody" in op:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        doc = draw(from_schema(schema) | st.from_type(dict))
        body = json.dumps(doc).encode()
        if path.endswith("/events"):
            body = gzip.compress(body)
            headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "gzip", "identity"]))
        headers["Content-Type"] = "application/json"
    return method.upper(), path, url, headers, body


JPEG = b"\xff\xd8\xff\xe0" + bytes(64) + b"\xff\xd9"
jpegs = (
    st.binary(max_size=64).map(lambda b: JPEG[:4] + b + JPEG[-2:])
    | st.binary(max_size=64)
    | st.just(JPEG[:4] + bytes(1024 * 1024) + JPEG[-2:])  # one byte past the 1 MiB cap
)


def _mostly(draw: st.DrawFn, usual: str, other: st.SearchStrategy[Any]) -> Any:
    return usual if draw(st.sampled_from([True] * 8 + [False] * 2)) else draw(other)


@st.composite
def coherent_batch(draw: st.DrawFn) -> dict[str, Any]:
    """A batch that keeps the coverage rule: contiguous events, maybe an evicted range."""
    start = draw(st.integers(1, 40))
    n = draw(st.integers(0, 6))
    envs = [{**draw(component("Envelope")), "seq": start + i} for i in range(n)]
    evicted = [[start + n, start + n + 2]] if draw(st.booleans()) or not n else []
    return {
        "site": "site-a",
        "epoch": draw(
            st.sampled_from(["00000000000000a1", "00000000000000a1", "00000000000000b2"])
        ),
        "from_seq": start,
        "to_seq": start + n - 1 + (3 if evicted else 0),
        "events": envs,
        "evicted": evicted,
    }


def send(
    hub: LiveHub, method: str, url: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes, str]:
    """(status, body, media type) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=30)
    try:
        conn.request(method, url, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.headers.get_content_type()
    finally:
        conn.close()


@settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_requests_get_documented_valid_answers(
    live_hub: LiveHub, data: st.DataObject
) -> None:
    method, path, url, headers, body = data.draw(requests(live_hub))
    status, raw, ctype = send(live_hub, method, url, headers, body)
    assert status < 500, (method, url, status, raw[:300])
    assert not problems(path, method, status, raw, ctype), (method, url, status, raw[:300])


def test_the_contract_is_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    for schema in SPEC["components"]["schemas"].values():
        Draft202012Validator.check_schema(as_schema(schema))


@settings(max_examples=150, suppress_health_check=list(HealthCheck))
@given(batch=coherent_batch())
def test_generated_coherent_batches_are_stored_or_refused_as_documented(
    live_hub: LiveHub, batch: dict[str, Any]
) -> None:
    """Batches that keep the coverage rule: 200, or 409 gap / epoch_mismatch; never 400."""
    headers = {
        "Authorization": f"Bearer {live_hub.tokens['site-a']}",
        "Content-Encoding": "gzip",
    }
    body = gzip.compress(json.dumps(batch).encode())
    path = "/v1/sites/{site}/events"
    status, raw, _ = send(live_hub, "POST", "/v1/sites/site-a/events", headers, body)
    assert status in (200, 409), raw[:300]
    assert not problems(path, "POST", status, raw), raw[:300]
    if status == 409:
        assert json.loads(raw)["error"]["code"] in ("gap", "epoch_mismatch")
