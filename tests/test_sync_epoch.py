"""A site must never lose events to a seq it reused (issue 12): each site journal has an
epoch; the hub refuses an epoch it does not hold, says what to do, and after an explicit
re-provisioning at the site and at the hub keeps both streams."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from edgectl.config import Config
from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal, epoch
from sync.client import SyncClient
from sync.hub.store import HubStore
from tests.cli_helpers import edgectl
from tests.conftest import RefHub, site_config
from tests.sync_support import make_event, run_until


async def write(journal: Journal, n: int) -> None:
    for i in range(n - 1):
        journal.append(make_event(i))
    await journal.append(make_event(n))


def last_error(conn: sqlite3.Connection) -> dict[str, str]:
    doc: dict[str, str] = json.loads(kv.get(conn, kv.LAST_ERROR, "{}"))
    return doc


def hub_events(hub: RefHub, ep: str) -> list[int]:
    store = HubStore(hub.db)
    try:
        return [e["seq"] for e in store.events(hub.site, 0, 1_000_000, ep)]
    finally:
        store.close()


def wipe(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


async def sync_until(cfg: Config, db: Path, done: Callable[[], bool]) -> None:
    await run_until(SyncClient(cfg, db), done)


async def synced_site(
    tmp_path: Path, hub: RefHub, n: int
) -> tuple[Config, Path, Journal, sqlite3.Connection]:
    """A site journal of ``n`` events, all forwarded to ``hub``."""
    cfg = site_config(tmp_path, hub.url, hub.token, backoff_base_s=0.02, backoff_max_s=0.1)
    db = Path(cfg.store.path)
    journal = Journal(db)
    await write(journal, n)
    conn = connect(db)
    await sync_until(cfg, db, lambda: kv.acked_seq(conn) == n)
    return cfg, db, journal, conn


async def test_a_replaced_box_is_refused_then_reprovisioned_and_nothing_is_lost(
    tmp_path: Path, ref_hub: RefHub
) -> None:
    cfg, db, journal, conn = await synced_site(tmp_path, ref_hub, 30)
    first = epoch(conn)
    await journal.close()
    conn.close()

    wipe(db)  # the box is replaced: a fresh database under the same site id
    journal = Journal(db)
    await write(journal, 40)
    conn = connect(db)
    second = epoch(conn)
    assert second != first
    await sync_until(cfg, db, lambda: last_error(conn).get("kind") == "epoch_mismatch")
    message = last_error(conn)["message"]
    assert "409 epoch_mismatch" in message and f"epoch {second}" in message
    assert "edgectl hub sites reprovision site-a" in message  # it says what to do
    assert kv.acked_seq(conn) == 0 and hub_events(ref_hub, first) == list(range(1, 31))

    result = await asyncio.to_thread(
        edgectl, "hub", "sites", "reprovision", "site-a", "--db", str(ref_hub.db)
    )
    assert result.returncode == 0, result.stderr
    await sync_until(cfg, db, lambda: kv.acked_seq(conn) == 40)
    assert hub_events(ref_hub, first) == list(range(1, 31))  # both streams are kept
    assert hub_events(ref_hub, second) == list(range(1, 41))
    listed = json.loads(
        (await asyncio.to_thread(edgectl, "hub", "sites", "list", "--db", str(ref_hub.db))).stdout
    )
    assert listed[0]["epoch"] == second and listed[0]["past_epochs"][0]["epoch"] == first
    await journal.close()


async def test_a_restored_backup_reusing_seqs_is_refused_until_reprovisioned(
    tmp_path: Path, ref_hub: RefHub
) -> None:
    cfg, db, journal, conn = await synced_site(tmp_path, ref_hub, 10)
    backup = sqlite3.connect(tmp_path / "backup.db")
    conn.backup(backup)
    backup.close()
    await write(journal, 10)
    await sync_until(cfg, db, lambda: kv.acked_seq(conn) == 20)
    await journal.close()
    conn.close()

    wipe(db)
    shutil.copy(tmp_path / "backup.db", db)  # restored: same epoch, head 10, hub holds 20
    journal = Journal(db)
    await write(journal, 15)  # seqs 11..25: 11..20 reuse seqs the hub holds
    conn = connect(db)
    old = epoch(conn)
    await sync_until(cfg, db, lambda: last_error(conn).get("kind") == "epoch_mismatch")
    assert "reuses seqs" in last_error(conn)["message"]
    assert kv.acked_seq(conn) == 10  # nothing silently acked as a duplicate

    result = await asyncio.to_thread(edgectl, "sync", "reprovision", "--db", str(db), "--yes")
    assert result.returncode == 0 and "hub sites reprovision" in result.stdout, result.stderr
    new = epoch(conn)
    assert new != old and kv.acked_seq(conn) == 0
    result = await asyncio.to_thread(
        edgectl, "hub", "sites", "reprovision", "site-a", "--db", str(ref_hub.db)
    )
    assert result.returncode == 0, result.stderr
    await sync_until(cfg, db, lambda: kv.acked_seq(conn) == 26)  # 25 + the audit event
    assert hub_events(ref_hub, old) == list(range(1, 21))
    assert hub_events(ref_hub, new) == list(range(1, 27))
    store = HubStore(ref_hub.db)
    audit = store.events("site-a", 25, 1, new)[0]
    store.close()
    assert audit["kind"] == "sync_reprovisioned" and audit["body"]["new_epoch"] == new
    await journal.close()
