"""The site timeline (one timer for every deadline) and the ordered store writer."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edgectl.store.db import connect
from edgectl.store.tx import transaction
from edgectl.store.writer import Writer
from edgectl.timeline import Timeline
from tests.ops_site import FakeClock

T0 = datetime(2026, 5, 4, tzinfo=UTC)


def test_deadlines_fire_in_order_once_and_a_failing_owner_harms_no_other() -> None:
    clock = FakeClock(T0)
    tl = Timeline(clock)
    fired: list[str] = []

    def boom(now: datetime) -> None:
        raise RuntimeError("owner bug")

    tl.set("a", T0 + timedelta(seconds=3), lambda now: fired.append("a"))
    tl.set("b", T0 + timedelta(seconds=1), lambda now: fired.append("b"))
    tl.set("c", T0 + timedelta(seconds=2), boom)
    tl.set("a", T0 + timedelta(seconds=5), lambda now: fired.append("a2"))  # moved later
    tl.set("d", T0 + timedelta(seconds=4), lambda now: fired.append("d"))
    tl.cancel("d")
    assert tl.next() == T0 + timedelta(seconds=1)
    assert tl.fire_due(T0 + timedelta(seconds=4)) == 2  # b, then c (which fails)
    assert fired == ["b"] and tl.next() == T0 + timedelta(seconds=5)
    assert tl.fire_due(T0 + timedelta(seconds=5)) == 1
    assert fired == ["b", "a2"] and tl.next() is None and len(tl) == 0


async def test_the_loop_sleeps_until_poked_with_nothing_due() -> None:
    clock = FakeClock(T0)
    tl = Timeline(clock, cap_s=60)
    seen = asyncio.Event()
    tl.set("x", T0 + timedelta(hours=1), lambda now: seen.set())
    task = asyncio.create_task(tl.run())
    try:
        clock.advance(hours=1)
        tl.poke()
        await asyncio.wait_for(seen.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _insert(conn: sqlite3.Connection, key: str, value: str) -> str:
    conn.execute("INSERT INTO kv (key, value) VALUES (?, ?)", (key, value))
    return key


async def test_writes_commit_in_order_and_a_failing_one_is_undone_alone(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "s.db")
    try:
        first = writer.submit(_insert, "k1", "a")
        dup = writer.submit(_insert, "k1", "b")  # the primary key refuses it
        last = writer.submit(_insert, "k2", "c")
        assert await asyncio.wrap_future(first) == "k1"
        with pytest.raises(sqlite3.IntegrityError):
            await asyncio.wrap_future(dup)
        assert await asyncio.wrap_future(last) == "k2"
        await writer.flush()
    finally:
        writer.close()
    conn = connect(tmp_path / "s.db", readonly=True)
    rows = conn.execute("SELECT key, value FROM kv WHERE key LIKE 'k%' ORDER BY key").fetchall()
    conn.close()
    assert [tuple(r) for r in rows] == [("k1", "a"), ("k2", "c")]


def _own_transaction(conn: sqlite3.Connection, key: str) -> str:
    with transaction(conn):
        conn.execute("INSERT INTO kv (key, value) VALUES (?, 'own')", (key,))
    return key


async def test_a_change_with_its_own_transaction_runs_in_order(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "s.db")
    try:
        writer.submit(_insert, "k1", "a")
        alone = writer.submit_alone(_own_transaction, "k2")
        after = writer.submit(_insert, "k3", "b")
        assert await asyncio.wrap_future(alone) == "k2"
        assert await asyncio.wrap_future(after) == "k3"
    finally:
        writer.close()
    conn = connect(tmp_path / "s.db", readonly=True)
    keys = [r[0] for r in conn.execute("SELECT key FROM kv WHERE key LIKE 'k%' ORDER BY rowid")]
    conn.close()
    assert keys == ["k1", "k2", "k3"]
