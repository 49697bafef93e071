"""Everything the daemon publishes fits what the broker accepts.

The broker's maximum packet size comes from CONNACK (``connection.SiteClient``). A reply
that would not fit is replaced by a ``reply_too_large`` error; an event by a stub marked
``truncated`` (the journal and ``query/events`` hold the whole entry)."""

from __future__ import annotations

import json
from typing import Any

HEADER_ROOM = 64  # fixed header, remaining length, packet id, property lengths


def encode(doc: Any) -> bytes:
    """Compact JSON, ASCII only (a lone surrogate becomes an escape, never an error)."""
    return json.dumps(doc, separators=(",", ":"), default=str).encode("ascii")


def packet_size(topic: str, payload: bytes, correlation: bytes | None = None) -> int:
    props = len(correlation) + 3 if correlation else 0
    return HEADER_ROOM + len(topic.encode("utf-8")) + props + len(payload)


def fit_reply(reply: dict[str, Any], topic: str, correlation: bytes | None, limit: int) -> bytes:
    payload = encode(reply)
    if packet_size(topic, payload, correlation) <= limit:
        return payload
    return encode(
        {
            "status": "error",
            "code": "reply_too_large",
            "message": f"the reply is {len(payload)} bytes; the broker takes {limit} a packet"
            " (for query/events: a smaller limit, or page with before)",
            "command": reply.get("command"),
            "transaction": reply.get("transaction"),
        }
    )


def fit_event(entry: dict[str, Any], topic: str, limit: int) -> bytes:
    payload = encode(entry)
    if packet_size(topic, payload) <= limit:
        return payload
    keep = ("seq", "at", "kind", "class", "source", "schema_version")
    return encode({**{k: entry.get(k) for k in keep}, "body": {}, "truncated": True})
