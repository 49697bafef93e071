"""The sync contract (sync/openapi.yaml) as JSON Schema, for checking what the hub answers.

``ContractCheck`` hooks into a hub app and validates every response it gives (status
documented for that path and method, body valid against the response schema) with
``jsonschema``; the ``ref_hub`` fixture installs it, so every hub test checks the contract.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from jsonschema import Draft202012Validator, FormatChecker

from edgectl.store.evidence import is_jpeg

SPEC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent.parent / "sync" / "openapi.yaml").read_text()
)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, _, kind, name = node["$ref"].split("/")
        node = SPEC["components"][kind][name]
    return node


def as_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A contract schema as a standalone JSON Schema (its $refs resolve in the contract)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "components": SPEC["components"],
    }


@cache
def _validator(path: str, method: str, status: str) -> Draft202012Validator:
    resp = resolve(SPEC["paths"][path][method]["responses"][status])
    schema = resp["content"]["application/json"]["schema"]
    return Draft202012Validator(as_schema(schema), format_checker=FormatChecker())


def documented(path: str | None, method: str, status: int) -> str | None:
    """The contract's response key for this answer ("200", "5XX"), or None if undocumented."""
    if path is None:  # no route: unknown path, or a request refused before routing
        return "404" if status in (404, 405) else str(status) if status in (400, 413) else None
    responses = SPEC["paths"].get(path, {}).get(method.lower(), {}).get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX"):
        if key in responses:
            return key
    return None


def _body_problems(schema: dict[str, Any], ctype: str, body: bytes) -> list[str]:
    """A non-JSON body (an evidence JPEG) against its schema's media type and length."""
    if ctype == "image/jpeg" and not is_jpeg(body):
        return [f"body is not a JPEG: {body[:20]!r}"]
    limit = schema.get("maxLength", len(body))
    return [f"body of {len(body)} bytes exceeds {limit}"] if len(body) > limit else []


def problems(
    path: str | None,
    method: str,
    status: int,
    body: bytes,
    content_type: str = "application/json",
) -> list[str]:
    """What is wrong with one hub answer; empty if it keeps the contract."""
    where = f"{method} {path} -> {status}"
    key = documented(path, method, status)
    if key is None:
        return [f"{where}: status not documented"]
    if path is None:  # refused before routing: the Error body
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    else:
        content = resolve(SPEC["paths"][path][method.lower()]["responses"][key])["content"]
    if content_type not in content:
        return [f"{where}: content type {content_type} not documented ({', '.join(content)})"]
    if content_type != "application/json":
        schema = content[content_type]["schema"]
        return [f"{where}: {p}" for p in _body_problems(schema, content_type, body)]
    try:
        doc = json.loads(body)
    except ValueError:
        return [f"{where}: body is not JSON: {body[:80]!r}"]
    if path is None:
        validator = Draft202012Validator(as_schema(content["application/json"]["schema"]))
    else:
        validator = _validator(path, method.lower(), key)
    return [f"{where}: {e.json_path}: {e.message[:300]}" for e in validator.iter_errors(doc)]


class ContractCheck:
    """Validates every response of the hub app it is installed on; ``seen`` counts them."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen = 0
        self._tolerated: list[str] = []

    def tolerate(self, text: str) -> None:
        """Ignore problems naming ``text`` (a test that makes the hub break the contract)."""
        self._tolerated.append(text)

    def install(self, app: web.Application) -> None:
        app.on_response_prepare.append(self._check)

    async def _check(self, request: web.Request, response: web.StreamResponse) -> None:
        if not isinstance(response, web.Response) or response.body is None:
            return
        info = getattr(request, "match_info", None)
        route = info.route.resource if info is not None and info.route else None
        path = route.canonical if route is not None else None
        body = response.body if isinstance(response.body, bytes) else b""
        self.seen += 1
        self.problems += [
            p
            for p in problems(path, request.method, response.status, body, response.content_type)
            if not any(t in p for t in self._tolerated)
        ]
