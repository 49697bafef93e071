"""Hypothesis strategies built from the contract's JSON Schemas (the subset sync/openapi.yaml
uses: $ref, type, enum, const, pattern, lengths, bounds, properties, items, oneOf, allOf,
format date-time). hypothesis-jsonschema 0.23.1 fails on hypothesis 6.170 (AttributeError in
its canonicaliser), so this small generator stands in for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from tests.contract import SPEC, resolve

_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC).isoformat()
)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema`` (a contract schema or a $ref into it)."""
    schema = resolve(schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([from_schema(s) for s in schema["oneOf"]])
    if "allOf" in schema:
        return from_schema(schema["allOf"][0])
    types = schema.get("type", "object")
    if isinstance(types, list):
        return st.one_of([from_schema({**schema, "type": t}) for t in types])
    strategy: st.SearchStrategy[Any] = _BY_TYPE[types](schema)
    return strategy


def _string(s: dict[str, Any]) -> st.SearchStrategy[str]:
    if s.get("format") == "date-time":
        return _times
    if "pattern" in s:
        return st.from_regex(s["pattern"], fullmatch=True).filter(
            lambda v: len(v) <= s.get("maxLength", 10**9)
        )
    return st.text(min_size=s.get("minLength", 0), max_size=min(s.get("maxLength", 40), 40))


def _integer(s: dict[str, Any]) -> st.SearchStrategy[int]:
    lo, hi = s.get("minimum", -(2**63)), s.get("maximum", 2**63 - 1)
    return st.integers(lo, hi) | st.sampled_from([lo, hi]) | st.integers(lo, min(hi, lo + 50))


def _array(s: dict[str, Any]) -> st.SearchStrategy[list[Any]]:
    lo = s.get("minItems", 0)
    return st.lists(
        from_schema(s.get("items", {"type": "string"})),
        min_size=lo,
        max_size=max(lo, min(s.get("maxItems", 5), 5)),
    )


def _object(s: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props = s.get("properties", {})
    required = {k: from_schema(v) for k, v in props.items() if k in s.get("required", [])}
    optional = {k: from_schema(v) for k, v in props.items() if k not in required}
    return st.fixed_dictionaries(required, optional=optional)


_BY_TYPE: dict[str, Any] = {
    "string": _string,
    "integer": _integer,
    "number": lambda s: st.floats(allow_nan=False, allow_infinity=False),
    "boolean": lambda s: st.booleans(),
    "null": lambda s: st.none(),
    "array": _array,
    "object": _object,
}


def component(name: str) -> st.SearchStrategy[Any]:
    return from_schema(SPEC["components"]["schemas"][name])
