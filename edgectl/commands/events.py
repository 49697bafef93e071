"""``query/events``: journal entries paged by count and by the reply's byte budget."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from edgectl.store.db import connect
from edgectl.store.journal import last_entries

# What a page costs beyond its entries: the reply envelope, the command name, ids.
PAGE_OVERHEAD = 1024


def size(doc: Any) -> int:
    """Bytes of ``doc`` as the interfaces write it (compact JSON, ASCII escapes)."""
    return len(json.dumps(doc, separators=(",", ":"), default=str))


def page_events(
    path: str,
    *,
    limit: int,
    kinds: tuple[str, ...],
    before: int | None,
    budget: int,
    view: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """The newest ``limit`` entries before ``before`` that fit ``budget`` bytes, oldest
    first. ``next_before`` is set when older entries remain (pass it as ``before``). An
    entry that alone exceeds the budget is replaced by a stub marked ``truncated``."""
    conn = connect(path, readonly=True)
    try:
        entries = last_entries(conn, limit + 1, kinds, before)
    finally:
        conn.close()
    more = len(entries) > limit
    entries = entries[-limit:]
    room = budget - PAGE_OVERHEAD
    page: list[dict[str, Any]] = []
    for entry in reversed(entries):
        shown = view(entry.to_json())
        cost = size(shown) + 1
        if cost > room:
            stub = {"seq": entry.seq, "at": shown["at"], "kind": entry.kind, "truncated": True}
            if page or size(stub) + 1 > room:
                more = True  # no room left: the rest is on the next page
                break
            shown, cost = stub, size(stub) + 1
        page.append(shown)
        room -= cost
    page.reverse()
    oldest = page[0]["seq"] if page else before
    return {"events": page, "next_before": oldest if more and page else None}
