"""Retention within the disk budget: acknowledged first, then telemetry, never unacked access."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import REGISTRY

from edgectl.domain import AccessDecided, VehicleDetected
from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal, head_seq, last_entries
from edgectl.store.retention import Retention, enforce, used_bytes


def access(i: int) -> AccessDecided:
    return AccessDecided(
        source="reader-1",
        at=datetime.now(UTC),
        granted=True,
        reason="ok",
        credential="x" * 300 + str(i),
    )


def telemetry(i: int) -> VehicleDetected:
    return VehicleDetected(source="loop-" + "y" * 300 + str(i), at=datetime.now(UTC), present=True)


async def fill(journal: Journal, n: int) -> None:
    await asyncio.gather(*(journal.append(access(i) if i % 2 else telemetry(i)) for i in range(n)))


def classes(conn) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(r[0], r[1]) for r in conn.execute("SELECT seq, cls FROM journal ORDER BY seq")]


async def test_eviction_order(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "edge.db")
    await fill(journal, 2000)
    conn = connect(tmp_path / "edge.db")
    kv.put(conn, kv.ACKED_SEQ, 400)
    used = used_bytes(conn)
    # a budget where evicting the acked 400 is not enough: telemetry must go too
    report = enforce(conn, int(used / 0.9))
    rows = classes(conn)
    assert report.evicted_acked == 400 and report.evicted_telemetry > 0
    assert rows[0][0] > 400
    unacked_access = [s for s, c in rows if c == "access"]
    assert unacked_access == list(range(402, 2001, 2))  # every unacked access event is kept
    # a budget so tight nothing evictable is left: access events still stay
    report = enforce(conn, 1)
    assert [s for s, c in classes(conn)] == unacked_access and report.pressure
    assert head_seq(conn) == 2000  # seq never goes back
    await journal.close()


async def test_storage_pressure_alarm_raised_once_and_cleared(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "edge.db")
    await fill(journal, 1000)
    conn = connect(tmp_path / "edge.db")
    budget_mb = used_bytes(conn) / 0.85 / 1024 / 1024  # 85% used, all unacknowledged
    retention = Retention(journal, budget_mb)
    for _ in range(3):
        await retention.check()
    await journal.append(access(0))  # flush queued alarms
    alarms = last_entries(conn, 10, kinds=("storage_pressure",))
    assert [a.body["active"] for a in alarms] == [True]
    assert alarms[0].cls == "alarm" and alarms[0].body["unacked_events"] == 500  # telemetry went
    kv.put(conn, kv.ACKED_SEQ, head_seq(conn))  # the hub caught up
    report = await retention.check()
    assert not report.pressure and report.evicted_acked > 0
    assert REGISTRY.get_sample_value("edgectl_store_used_bytes") == report.used_bytes
    assert REGISTRY.get_sample_value("edgectl_store_evicted_events_total", {"reason": "acked"}) > 0
    await journal.append(access(1))
    alarms = last_entries(conn, 10, kinds=("storage_pressure",))
    assert alarms[-1].body["active"] is False  # (the first alarm was acked, so evictable)
    await journal.close()
