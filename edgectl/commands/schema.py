"""Command fields: bounded JSON decoding and the per-command field validators.

Transport-neutral: MQTT and the control socket decode and check every request here. Every
failure raises ``Refused(code, message)`` naming the problem, so the caller answers with a
stable error code and never acts on a payload it did not fully understand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Validator = Callable[[str, Any], Any]

MAX_DEPTH = 16  # nesting of a request document; no command needs more than 3
MIN_YEAR, MAX_YEAR = 2000, 2200


class Refused(Exception):
    """A request that is answered with an error: a stable ``code`` and a ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(name: str, expected: str, value: Any) -> Refused:
    """The message shows the value's type only: a refused value may be a code or a PIN."""
    return Refused("bad_request", f"{name}: expected {expected}, got {type(value).__name__}")


def utf8(value: str) -> bool:
    """False for strings that cannot be written out (lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text(max_len: int = 128) -> Validator:
    def check(name: str, value: Any) -> str:
        ok = isinstance(value, str) and 0 < len(value) <= max_len and "\0" not in value
        if not ok or not utf8(value):
            raise _bad(name, f"a non-empty string of at most {max_len} characters", value)
        return str(value)

    return check


def integer(lo: int, hi: int) -> Validator:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _bad(name, f"an integer from {lo} to {hi}", value)
        return value

    return check


def number(lo: float, hi: float) -> Validator:
    def check(name: str, value: Any) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not lo <= value <= hi:
            raise _bad(name, f"a number from {lo} to {hi}", value)
        return float(value)

    return check


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, "true or false", value)
    return value


def timestamp(name: str, value: Any) -> datetime:
    """An ISO 8601 time with a UTC offset, e.g. ``2026-11-23T12:00:00+00:00``."""
    if not isinstance(value, str) or len(value) > 40:
        raise _bad(name, "an ISO 8601 time with offset", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(name, "an ISO 8601 time with offset", value) from None
    if parsed.utcoffset() is None:
        raise _bad(name, "an ISO 8601 time with offset (no offset given)", value)
    try:  # 9999-12-31T23:59:59-23:59 is past datetime.max once in UTC
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        in_utc = datetime.max.replace(tzinfo=UTC)
    if not MIN_YEAR <= in_utc.year < MAX_YEAR:
        raise _bad(name, f"a time between the years {MIN_YEAR} and {MAX_YEAR}", value)
    return parsed


def text_list(max_items: int, max_len: int = 64) -> Validator:
    item = text(max_len)

    def check(name: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not 0 < len(value) <= max_items:
            raise _bad(name, f"a list of 1 to {max_items} strings", value)
        return tuple(item(f"{name}[{i}]", v) for i, v in enumerate(value))

    return check


@dataclass(frozen=True, slots=True)
class Field:
    """``secret``: a code, never journaled, published or logged (the journal omits it)."""

    check: Validator
    required: bool = True
    secret: bool = False


Schema = Mapping[str, Field]


def decode(raw: bytes, max_bytes: int) -> dict[str, Any]:
    """Bytes to a JSON object, refusing oversize, non-UTF-8, non-JSON, non-object, deeply
    nested input and strings that cannot be written back out (lone surrogates)."""
    if len(raw) > max_bytes:
        raise Refused("too_large", f"payload is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise Refused("bad_json", f"payload is nested more than {MAX_DEPTH} deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused("bad_json", f"payload is not JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise Refused("bad_json", f"payload must be a JSON object, got {type(doc).__name__}")
    check_tree(doc)
    return doc


def check_tree(doc: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and unwritable strings, without recursion."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused("bad_json", f"payload is nested more than {MAX_DEPTH} deep")
        if isinstance(value, str):
            if not utf8(value):
                raise Refused("bad_json", "payload has a string that is not valid Unicode")
        elif isinstance(value, dict):
            stack.extend((k, depth) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def validate(fields: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """Check ``fields`` against ``schema``: no unknown or missing names, every type right."""
    unknown = sorted(set(fields) - set(schema))
    if unknown:
        shown = [name[:32] for name in unknown[:5]]
        raise Refused("bad_request", f"unknown field(s) {shown}; expected {sorted(schema)}")
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        if name not in fields:
            if spec.required:
                raise Refused("bad_request", f"{name}: required")
            continue
        out[name] = spec.check(name, fields[name])
    return out
