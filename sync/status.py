"""The sync status (CLI and metrics): backlog, oldest unsent, last sync, failures."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.store import kv
from sync.outbox import backlog, last_sync


@dataclass(frozen=True, slots=True)
class SyncStatus:
    acked_seq: int
    head_seq: int
    backlog: int
    oldest_unsent_age_s: float
    last_sync_at: datetime | None
    failures: dict[str, int]
    last_error: dict[str, Any]
    unpushed_workorder_updates: int

    def to_json(self) -> dict[str, Any]:
        return {
            "acked_seq": self.acked_seq,
            "head_seq": self.head_seq,
            "backlog": self.backlog,
            "oldest_unsent_age_s": round(self.oldest_unsent_age_s, 3),
            "last_sync_at": self.last_sync_at.isoformat() if self.last_sync_at else None,
            "failures": self.failures,
            "last_error": self.last_error,
            "unpushed_workorder_updates": self.unpushed_workorder_updates,
        }


def read_status(conn: sqlite3.Connection, now: datetime) -> SyncStatus:
    b = backlog(conn)
    unpushed = conn.execute(
        "SELECT count(*) FROM work_order_updates WHERE pushed_at IS NULL"
    ).fetchone()[0]
    return SyncStatus(
        acked_seq=b.acked_seq,
        head_seq=b.head_seq,
        backlog=b.depth,
        oldest_unsent_age_s=b.oldest_age_s(now),
        last_sync_at=last_sync(conn),
        failures=json.loads(kv.get(conn, kv.FAILURES, "{}")),
        last_error=json.loads(kv.get(conn, kv.LAST_ERROR, "{}")),
        unpushed_workorder_updates=int(unpushed),
    )
