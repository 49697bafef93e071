"""Forwarding the journal to the real reference hub: order, exactly once, resume, status."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from edgectl.cli.sync import app as sync_app
from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal, read_entries
from sync.client import SyncClient
from sync.hub.store import HubStore
from tests.conftest import RefHub, site_config
from tests.sync_support import make_event, run_until, until


def hub_events(hub: RefHub) -> list[dict]:
    store = HubStore(hub.db)
    try:
        return store.events(hub.site, 0, 1_000_000)
    finally:
        store.close()


async def test_hub_gets_every_event_once_in_order(tmp_path: Path, ref_hub: RefHub) -> None:
    cfg = site_config(
        tmp_path, ref_hub.url, ref_hub.token, batch_max_events=300, batch_max_bytes=20_000
    )
    journal = Journal(cfg.store.path)
    await asyncio.gather(*(journal.append(make_event(i)) for i in range(2500)))
    client = SyncClient(cfg, cfg.store.path, journal=journal)
    conn = connect(cfg.store.path)
    await run_until(client, lambda: kv.acked_seq(conn) == 2500 and kv.get(conn, kv.LAST_SYNC_AT))
    local = [e.to_json() for e in read_entries(conn, 0, 10_000)]
    remote = hub_events(ref_hub)
    assert [e["seq"] for e in remote] == list(range(1, 2501))
    assert [(e["kind"], e["class"], e["body"]) for e in remote] == [
        (e["kind"], e["class"], e["body"]) for e in local
    ]
    # status, as an operator sees it
    out = CliRunner().invoke(sync_app, ["status", "--db", cfg.store.path, "--json"])
    assert out.exit_code == 0, out.output
    st = json.loads(out.output)
    assert st["backlog"] == 0 and st["acked_seq"] == 2500 and st["last_sync_at"]
    await journal.close()


async def test_new_commits_wake_the_client(tmp_path: Path, ref_hub: RefHub) -> None:
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token, interval_s=30.0)
    journal = Journal(cfg.store.path)
    conn = connect(cfg.store.path)
    client = SyncClient(cfg, cfg.store.path, journal=journal)

    async def later() -> None:
        await asyncio.sleep(0.3)
        await journal.append(make_event(0))

    asyncio.get_running_loop().create_task(later())
    await run_until(client, lambda: kv.acked_seq(conn) == 1, limit_s=5)
    await journal.close()


async def test_restart_resumes_without_duplicates(tmp_path: Path, ref_hub: RefHub) -> None:
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token, batch_max_events=100)
    journal = Journal(cfg.store.path)
    for i in range(500):
        journal.append(make_event(i))
    await journal.append(make_event(500))
    conn = connect(cfg.store.path)
    await run_until(SyncClient(cfg, cfg.store.path), lambda: kv.acked_seq(conn) >= 200)
    # the cursor is lost (as if the site crashed after the hub stored but before the write)
    kv.put(conn, kv.ACKED_SEQ, 50)
    await run_until(SyncClient(cfg, cfg.store.path), lambda: kv.acked_seq(conn) == 501)
    remote = hub_events(ref_hub)
    assert [e["seq"] for e in remote] == list(range(1, 502))
    hub = sqlite3.connect(ref_hub.db)
    assert hub.execute("SELECT acked_seq, evicted FROM sites").fetchone() == (501, 0)
    await journal.close()


async def test_evicted_telemetry_is_declared_not_a_gap(tmp_path: Path, ref_hub: RefHub) -> None:
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token)
    journal = Journal(cfg.store.path)
    for i in range(29):
        journal.append(make_event(i))
    await journal.append(make_event(29))
    conn = connect(cfg.store.path)
    conn.execute("DELETE FROM journal WHERE cls = 'telemetry'")  # as retention would
    await run_until(SyncClient(cfg, cfg.store.path), lambda: kv.acked_seq(conn) == 30)
    remote = hub_events(ref_hub)
    assert [e["seq"] for e in remote] == [s for s in range(1, 31) if (s - 1) % 3 != 2]
    hub = sqlite3.connect(ref_hub.db)
    assert hub.execute("SELECT acked_seq, evicted FROM sites").fetchone() == (30, 10)
    await journal.close()


async def test_upgrade_keeps_backlog_and_cursor(tmp_path: Path, ref_hub: RefHub) -> None:
    """A store from an older edgectl (schema 1) keeps its journal and cursor when migrated."""
    from edgectl.store.db import _statements
    from edgectl.store.migrations import MIGRATIONS

    path = tmp_path / "edge.db"
    old = sqlite3.connect(path)
    for statement in _statements(MIGRATIONS[0]):
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.executemany(
        "INSERT INTO journal (at, kind, cls, source, body, schema_version) VALUES (?,?,?,?,?,1)",
        [("2026-01-01T00:00:00+00:00", "gate_state", "device", "g1", '{"state": "open"}')] * 40,
    )
    old.execute("INSERT INTO kv VALUES ('sync.acked_seq', '0')")
    old.commit()
    old.close()
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token, batch_max_events=7)
    conn = connect(path)  # SyncClient migrates on open
    await run_until(SyncClient(cfg, path), lambda: kv.acked_seq(conn) == 40)
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 2
    assert [e["seq"] for e in hub_events(ref_hub)] == list(range(1, 41))


async def test_many_sites_share_one_hub(tmp_path: Path, ref_hub: RefHub) -> None:
    store = HubStore(ref_hub.db)
    token_b = store.add_site("site-b")
    store.put_record("site-b", "person", "only-b", {"name": "B"})
    store.close()
    sites = []
    for name, token, n in (("site-a", ref_hub.token, 30), ("site-b", token_b, 45)):
        (tmp_path / name).mkdir()
        cfg = site_config(tmp_path / name, ref_hub.url, token, site=name)
        journal = Journal(cfg.store.path)
        await asyncio.gather(*(journal.append(make_event(i)) for i in range(n)))
        sites.append((cfg, journal, connect(cfg.store.path), n))
    clients = [asyncio.create_task(SyncClient(cfg, cfg.store.path).run()) for cfg, *_ in sites]
    try:
        await until(
            lambda: all(
                kv.acked_seq(conn) == n and kv.get(conn, kv.LAST_SYNC_AT) for _, _, conn, n in sites
            )
        )
    finally:
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    hub = HubStore(ref_hub.db)
    assert [e["seq"] for e in hub.events("site-a", 0, 100)] == list(range(1, 31))
    assert [e["seq"] for e in hub.events("site-b", 0, 100)] == list(range(1, 46))
    hub.close()
    people = [[r[0] for r in conn.execute("SELECT id FROM people")] for _, _, conn, _ in sites]
    assert people == [[], ["only-b"]]  # each site gets only its own records
    for _, journal, _, _ in sites:
        await journal.close()
