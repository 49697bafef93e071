"""Request payloads: size limit, JSON decoding, the envelope and per-command fields.

Every failure raises ``Refused(code, message)`` naming the problem, so the handler
answers with a stable error code and never acts on a payload it did not fully understand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Validator = Callable[[str, Any], Any]

ENVELOPE = ("issued_at", "transaction")
MAX_TRANSACTION = 128


class Refused(Exception):
    """A request that is answered with an error: a stable ``code`` and a ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(name: str, expected: str, value: Any) -> Refused:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return Refused("bad_request", f"{name}: expected {expected}, got {shown}")


def text(max_len: int = 128) -> Validator:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or not 0 < len(value) <= max_len or "\0" in value:
            raise _bad(name, f"a non-empty string of at most {max_len} characters", value)
        return value

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
    check: Validator
    required: bool = True


Schema = Mapping[str, Field]


@dataclass(frozen=True, slots=True)
class Envelope:
    issued_at: datetime
    transaction: str | None
    fields: dict[str, Any]  # the rest of the document, not yet validated


def decode(raw: bytes, max_bytes: int) -> dict[str, Any]:
    """Bytes to a JSON object, refusing oversize, non-UTF-8, non-JSON and non-object input."""
    if len(raw) > max_bytes:
        raise Refused("too_large", f"payload is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused("bad_json", f"payload is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Refused("bad_json", f"payload must be a JSON object, got {type(doc).__name__}")
    return doc


def envelope(doc: dict[str, Any]) -> Envelope:
    """Split the envelope (``issued_at`` required, ``transaction`` optional) from the fields."""
    if "issued_at" not in doc:
        raise Refused("bad_request", "issued_at: required (ISO 8601 time with offset)")
    issued = timestamp("issued_at", doc["issued_at"])
    txn = doc.get("transaction")
    if txn is not None:
        txn = text(MAX_TRANSACTION)("transaction", txn)
    return Envelope(issued, txn, {k: v for k, v in doc.items() if k not in ENVELOPE})


def validate(fields: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """Check ``fields`` against ``schema``: no unknown or missing names, every type right."""
    unknown = sorted(set(fields) - set(schema))
    if unknown:
        raise Refused("bad_request", f"unknown field(s) {unknown}; expected {sorted(schema)}")
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        if name not in fields:
            if spec.required:
                raise Refused("bad_request", f"{name}: required")
            continue
        out[name] = spec.check(name, fields[name])
    return out
