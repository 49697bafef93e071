"""The reference hub implements sync/openapi.yaml: same paths, and answers match the schemas."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sync.hub.app import make_app
from sync.hub.store import HubStore
from tests.conftest import RefHub
from tests.test_hub_api import batch, call

SPEC = yaml.safe_load((Path(__file__).parent.parent / "sync" / "openapi.yaml").read_text())


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        _, _, kind, name = schema["$ref"].split("/")
        schema = SPEC["components"][kind][name]
    return schema


def conforms(doc: Any, schema: dict[str, Any], where: str = "$") -> None:
    """A small structural check: required keys, types of objects/arrays, enums, consts."""
    schema = resolve(schema)
    for part in schema.get("allOf", []):
        conforms(doc, part, where)
    if "oneOf" in schema:
        errors = []
        for option in schema["oneOf"]:
            try:
                conforms(doc, option, where)
                break
            except AssertionError as exc:
                errors.append(str(exc))
        else:
            raise AssertionError(f"{where}: matches no option: {errors}")
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types or []
    if "null" in types and doc is None:
        return
    if "object" in types:
        assert isinstance(doc, dict), f"{where}: expected an object"
        for key in schema.get("required", []):
            assert key in doc, f"{where}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                conforms(doc[key], sub, f"{where}.{key}")
    if "array" in types:
        assert isinstance(doc, list), f"{where}: expected an array"
        for i, item in enumerate(doc):
            conforms(item, schema.get("items", {}), f"{where}[{i}]")
    if "integer" in types and not {"string", "null"} & set(types):
        assert isinstance(doc, int) and not isinstance(doc, bool), f"{where}: expected an integer"
    if "enum" in schema:
        assert doc in schema["enum"], f"{where}: {doc!r} not in {schema['enum']}"
    if "const" in schema:
        assert doc == schema["const"], f"{where}: expected {schema['const']!r}"


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    responses = SPEC["paths"][path][method]["responses"]
    resp = resolve(responses.get(str(status)) or responses[f"{str(status)[0]}XX"])
    return resp["content"]["application/json"]["schema"]


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
        conforms(doc, response_schema(path, method, status), f"{method} {path} {status}")
