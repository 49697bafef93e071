"""The reference hub implements sync/openapi.yaml: same paths, and answers match the schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp import web

from edgectl.store import kv
from edgectl.store.db import open_store
from sync.client import SyncClient
from sync.codec import CONTRACT_VERSION
from sync.hub.app import make_app
from sync.hub.store import HubStore
from tests.conftest import RefHub, free_port, site_config
from tests.contract import SPEC, as_schema, problems, resolve
from tests.sync_support import run_until
from tests.test_hub_api import batch, call


def test_hub_routes_are_the_spec_paths(tmp_path: Path) -> None:
    app = make_app(HubStore(tmp_path / "hub.db"))
    served = {
        (r.method.lower(), r.resource.canonical)  # type: ignore[union-attr]
        for r in app.router.routes()
        if r.method != "HEAD"
    }
    spec = {(m, p) for p, item in SPEC["paths"].items() for m in item if m in ("get", "post")}
    assert served == spec


def test_error_codes_in_code_are_in_the_spec() -> None:
    codes = set(
        resolve({"$ref": "#/components/schemas/Error"})["properties"]["error"]["properties"][
            "code"
        ]["enum"]
    )
    root = Path(__file__).parent.parent / "sync" / "hub"
    used = set()
    for f in root.glob("*.py"):
        used |= set(re.findall(r'HubError\(\s*\d+,\s*"(\w+)"', f.read_text()))
        used |= set(re.findall(r'\d{3}: "(\w+)"', f.read_text()))
    assert used and used <= codes, used - codes


async def test_answers_match_the_schemas(ref_hub: RefHub) -> None:
    store = HubStore(ref_hub.db)
    store.put_record("site-a", "access_level", "all", {"targets": ["gate-1"]})
    store.put_record("site-a", "person", "p1", {"name": "A", "levels": ["all"]})
    store.put_record("site-a", "credential", 1, {"person_id": "p1", "number": 5})
    order = store.create_workorder("site-a", "Lamp out")
    store.close()
    ev, site = "/v1/sites/{site}/events", "/v1/sites/site-a"
    checks = [
        (ev, "post", await call(ref_hub, "POST", f"{site}/events", data=batch(1, 3))),
        (ev, "post", await call(ref_hub, "POST", f"{site}/events", data=batch(9, 9))),
        (ev, "post", await call(ref_hub, "POST", f"{site}/events", "bad", data=batch(4, 4))),
        (ev, "post", await call(ref_hub, "POST", f"{site}/events", data=b"junk")),
        (ev + "/ack", "get", await call(ref_hub, "GET", f"{site}/events/ack")),
        ("/v1/sites/{site}/changes", "get", await call(ref_hub, "GET", f"{site}/changes")),
        ("/v1/sites/{site}/snapshot", "get", await call(ref_hub, "GET", f"{site}/snapshot")),
        ("/v1/sites/{site}/workorders", "get", await call(ref_hub, "GET", f"{site}/workorders")),
        (
            "/v1/sites/{site}/workorders/{order}/status",
            "post",
            await call(
                ref_hub,
                "POST",
                f"{site}/workorders/{order['id']}/status",
                json={"update_id": "u1", "status": "acknowledged", "at": order["created_at"]},
            ),
        ),
        ("/v1/health", "get", await call(ref_hub, "GET", "/v1/health")),
    ]
    assert [status for _, _, (status, _) in checks] == [
        200,
        409,
        401,
        400,
        200,
        200,
        200,
        200,
        200,
        200,
    ]
    for path, method, (status, doc) in checks:
        assert not problems(path, method, status, json.dumps(doc).encode())
    assert ref_hub.contract.seen >= len(checks)  # and the fixture checked every answer


def test_the_contract_version_is_the_code_version() -> None:
    assert SPEC["info"]["version"] == CONTRACT_VERSION


def test_every_record_matches_exactly_one_branch() -> None:
    """Record.data used to match several oneOf branches (no discriminator)."""
    from jsonschema import Draft202012Validator

    record = Draft202012Validator(as_schema({"$ref": "#/components/schemas/Record"}))
    for type_, data in [
        ("person", {"name": "A"}),
        ("access_level", {"name": "L"}),
        ("group", {"name": "G"}),
        ("person", None),
    ]:
        doc = {"cursor": 1, "type": type_, "op": "upsert", "id": "x", "data": data}
        assert not list(record.iter_errors(doc)), type_
    bad = {"cursor": 1, "type": "person", "op": "upsert", "id": "x", "data": {"targets": 5}}
    assert list(record.iter_errors({**bad, "type": "credential"}))


@pytest.mark.parametrize(
    ("version", "text"),
    [(None, "unknown (no version)"), ("1.0.0", "upgrade the hub"), ("2.0.0", "upgrade edgectl")],
)
async def test_the_site_checks_the_contract_version_on_connect(
    tmp_path: Path, version: str | None, text: str
) -> None:
    app = web.Application()

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **({"contract": version} if version else {})})

    app.router.add_get("/v1/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        cfg = site_config(tmp_path, f"http://127.0.0.1:{port}", "t")
        conn = open_store(cfg.store.path)
        await run_until(
            SyncClient(cfg, cfg.store.path), lambda: bool(kv.get(conn, kv.LAST_ERROR, ""))
        )
        last = json.loads(kv.get(conn, kv.LAST_ERROR))
        assert last["kind"] == "incompatible" and text in last["message"]
        assert "sync contract" in last["message"]
    finally:
        await runner.cleanup()
