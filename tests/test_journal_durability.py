"""A full disk never loses or falsely acknowledges an event: the journal waits, reports, retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edgectl.domain import BadRead
from edgectl.store import kv
from edgectl.store.db import StoreError, connect
from edgectl.store.journal import Journal, read_entries
from edgectl.store.retention import Retention
from tests.sync_support import until


def bad_read(i: int) -> BadRead:
    return BadRead(source="reader-1", at=datetime.now(UTC), reason=f"{i:06d}" + "f" * 600, length=i)


def fill_up(journal: Journal) -> None:
    """Cap the writer's database at its current size: the next insert hits SQLITE_FULL."""
    pages = journal.conn.execute("PRAGMA page_count").fetchone()[0]
    journal.conn.execute(f"PRAGMA max_page_count = {pages}")


async def test_full_disk_holds_events_until_space_returns(tmp_path: Path) -> None:
    reports: list[tuple[bool, str]] = []
    journal = Journal(tmp_path / "edge.db", on_storage_full=lambda f, e: reports.append((f, e)))
    await asyncio.gather(*(journal.append(bad_read(i)) for i in range(5)))
    fill_up(journal)
    futures = [journal.append(bad_read(i)) for i in range(5, 205)]
    await until(lambda: journal.storage_full)
    await asyncio.sleep(0.3)
    assert not any(f.done() for f in futures)  # nothing acknowledged that is not on disk
    assert reports == [(True, "database or disk is full")]
    journal.conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
    entries = await asyncio.wait_for(asyncio.gather(*futures), 10)
    assert [e.seq for e in entries] == list(range(6, 206))
    await until(lambda: len(reports) == 2)
    assert reports[1] == (False, "")
    await journal.close()
    conn = connect(tmp_path / "edge.db")
    rows = read_entries(conn, 0, 1000)
    assert [r.body["reason"][:6] for r in rows[:205]] == [f"{i:06d}" for i in range(205)]
    alarm = rows[-1]
    assert alarm.kind == "storage_full" and alarm.cls == "alarm"
    assert alarm.body["error"] == "database or disk is full" and alarm.body["pending_events"] == 200


async def test_close_during_outage_fails_pending_futures(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "edge.db")
    await journal.append(bad_read(0))
    fill_up(journal)
    futures = [journal.append(bad_read(i)) for i in range(1, 50)]
    await until(lambda: journal.storage_full)
    await journal.close()
    for fut in futures:
        with pytest.raises(StoreError, match="disk is full"):
            await fut
    assert [e.seq for e in read_entries(connect(tmp_path / "edge.db"))] == [1]


async def test_retention_frees_space_for_a_stuck_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "edge.db")
    await asyncio.gather(*(journal.append(bad_read(i)) for i in range(400)))
    conn = connect(tmp_path / "edge.db")
    kv.put(conn, kv.ACKED_SEQ, 300)  # the hub has the first 300
    used = conn.execute("PRAGMA page_count").fetchone()[0] * 4096
    retention = Retention(journal, budget_mb=used / 0.95 / 1024 / 1024, interval_s=3600)
    fill_up(journal)
    futures = [journal.append(bad_read(i)) for i in range(400, 450)]
    task = asyncio.create_task(retention.run())  # woken by the journal's storage_full report
    entries = await asyncio.wait_for(asyncio.gather(*futures), 10)
    assert [e.seq for e in entries] == list(range(401, 451))
    task.cancel()
    seqs = [r[0] for r in conn.execute("SELECT seq FROM journal ORDER BY seq")]
    assert seqs[0] > 1 and set(range(301, 451)) <= set(seqs)  # only acknowledged ones went
    await journal.close()
