"""Prometheus metrics of the intercom drivers."""

from __future__ import annotations

from prometheus_client import Counter

UNKNOWN_EVENTS = Counter(
    "edgectl_intercom_unknown_events_total",
    "Intercom events not understood (unknown types, malformed or oversize parts)",
    ["intercom", "kind"],
)
RECONNECTS = Counter(
    "edgectl_intercom_reconnects_total", "Intercom event streams lost", ["intercom", "reason"]
)
