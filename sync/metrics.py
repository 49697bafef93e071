"""Prometheus metrics of the head-office link (registered once, in the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from sync.status import SyncStatus

BACKLOG = Gauge("edgectl_sync_backlog_events", "Journal events committed but not acked by the hub")
OLDEST_UNSENT_AGE = Gauge(
    "edgectl_sync_oldest_unsent_age_seconds", "Age of the oldest event the hub has not acked"
)
LAST_SYNC = Gauge(
    "edgectl_sync_last_success_timestamp_seconds", "Unix time of the last fully successful sync"
)
FAILURES = Counter("edgectl_sync_failures_total", "Failed sync steps by kind", ["kind"])
EVENTS_SENT = Counter("edgectl_sync_events_acked_total", "Journal events acked by the hub")
CHANGES_APPLIED = Counter(
    "edgectl_sync_changes_applied_total", "Pulled people/credential/level records applied"
)


def publish(status: SyncStatus) -> None:
    BACKLOG.set(status.backlog)
    OLDEST_UNSENT_AGE.set(status.oldest_unsent_age_s)
    if status.last_sync_at is not None:
        LAST_SYNC.set(status.last_sync_at.timestamp())
