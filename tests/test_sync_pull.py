"""Pulling people, credentials, access levels and work orders from the real reference hub."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from edgectl.cli.hub import app as hub_app
from edgectl.store import kv, workorders
from edgectl.store.db import open_store
from edgectl.store.journal import read_entries
from edgectl.store.tx import transaction
from edgectl.workorders import store as wostore
from rules import workorders as wo_rules
from sync.client import SyncClient
from sync.hub.store import HubStore
from tests.conftest import RefHub, site_config
from tests.sync_support import run_until


def hub_cli(hub: RefHub, *args: str) -> str:
    out = CliRunner().invoke(hub_app, [*args, "--db", str(hub.db)])
    assert out.exit_code == 0, out.output
    return out.output


def local(path: str) -> sqlite3.Connection:
    """The site store, migrated, with plain tuples for rows."""
    conn = open_store(path)
    conn.row_factory = None
    return conn


def cards(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT hub_id, number, facility, person_id, status FROM credentials ORDER BY hub_id"
    ).fetchall()


def failures(conn: sqlite3.Connection) -> dict[str, int]:
    return json.loads(kv.get(conn, kv.FAILURES, "{}"))


async def test_cards_added_on_the_hub_reach_the_site(tmp_path: Path, ref_hub: RefHub) -> None:
    hub_cli(ref_hub, "levels", "add", "--site", "site-a", "residents", "--target", "gate-1")
    hub_cli(
        ref_hub, "people", "add", "--site", "site-a", "p1", "--name", "Li", "--level", "residents"
    )
    hub_cli(
        ref_hub,
        "cards",
        "add",
        "--site",
        "site-a",
        "--person",
        "p1",
        "--number",
        "4242",
        "--facility",
        "12",
    )
    hub_cli(ref_hub, "cards", "add", "--site", "site-a", "--person", "p2", "--number", "77")
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token)
    conn = local(cfg.store.path)
    applied: list[int] = []
    client = SyncClient(cfg, cfg.store.path, on_applied=lambda: applied.append(1))
    await run_until(client, lambda: len(cards(conn)) == 2 and bool(applied))
    assert cards(conn) == [(1, 4242, 12, "p1", "active"), (2, 77, None, "p2", "active")]
    assert conn.execute("SELECT person_id, level_id FROM person_levels").fetchall() == [
        ("p1", "residents")
    ]
    assert conn.execute("SELECT * FROM access_level_targets").fetchall() == [
        ("residents", "gate-1")
    ]
    assert applied
    # revocation (move-out) reaches the site
    hub_cli(ref_hub, "cards", "revoke", "--site", "site-a", "1")
    client = SyncClient(cfg, cfg.store.path)
    await run_until(client, lambda: cards(conn)[0][4] == "revoked")
    hub_cli(ref_hub, "people", "remove", "--site", "site-a", "p2")
    await run_until(SyncClient(cfg, cfg.store.path), lambda: len(cards(conn)) == 1)
    assert conn.execute("SELECT id FROM people").fetchall() == [("p1",)]


async def test_batch_with_one_bad_record_applies_none(tmp_path: Path, ref_hub: RefHub) -> None:
    ref_hub.contract.tolerate("status")  # this head office serves a record the contract forbids
    store = HubStore(ref_hub.db)
    store.put_record("site-a", "person", "p1", {"name": "A"})
    store.put_record("site-a", "credential", 1, {"person_id": "p1", "number": 1})
    store.put_record("site-a", "credential", 2, {"person_id": "p1", "number": 2, "status": "bogus"})
    store.put_record("site-a", "credential", 3, {"person_id": "p1", "number": 3})
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token, backoff_base_s=0.02, backoff_max_s=0.05)
    conn = local(cfg.store.path)
    await run_until(
        SyncClient(cfg, cfg.store.path), lambda: failures(conn).get("invalid_pull", 0) >= 2
    )
    assert cards(conn) == [] and conn.execute("SELECT count(*) FROM people").fetchone()[0] == 0
    assert kv.get(conn, kv.CHANGES_CURSOR, "0") == "0"
    last = json.loads(kv.get(conn, kv.LAST_ERROR))
    assert "record 2 (id 2): status: expected one of" in last["message"]
    # a card for a person nobody knows breaks a reference: also nothing applied, record named
    store.put_record("site-a", "credential", 2, {"person_id": "p1", "number": 2})
    store.put_record("site-a", "credential", 4, {"person_id": "ghost", "number": 4})
    kv.put(conn, kv.FAILURES, "{}")
    await run_until(
        SyncClient(cfg, cfg.store.path), lambda: failures(conn).get("invalid_pull", 0) >= 1
    )
    assert cards(conn) == []
    assert (
        "(id 4): credential upsert: FOREIGN KEY"
        in json.loads(kv.get(conn, kv.LAST_ERROR))["message"]
    )
    # fixed on the hub: the whole batch applies
    store.put_record("site-a", "person", "ghost", {"name": "G"})
    await run_until(SyncClient(cfg, cfg.store.path), lambda: len(cards(conn)) == 4)
    store.close()


async def test_too_old_cursor_takes_a_full_resync(tmp_path: Path, ref_hub: RefHub) -> None:
    store = HubStore(ref_hub.db)
    store.put_record("site-a", "person", "p1", {"name": "A"})
    store.put_record("site-a", "person", "gone", {"name": "B"})
    store.delete_record("site-a", "person", "gone")
    assert store.compact("site-a") > 0
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token)
    conn = local(cfg.store.path)
    conn.execute("INSERT INTO people (id, name) VALUES ('gone', 'stale local copy')")
    await run_until(
        SyncClient(cfg, cfg.store.path),
        lambda: conn.execute("SELECT id FROM people").fetchall() == [("p1",)],
    )
    assert int(kv.get(conn, kv.CHANGES_CURSOR)) == store.snapshot("site-a")[0]
    store.close()


async def test_work_orders_round_trip_idempotently(tmp_path: Path, ref_hub: RefHub) -> None:
    order = json.loads(
        hub_cli(
            ref_hub,
            "workorders",
            "add",
            "--site",
            "site-a",
            "--title",
            "Barrier stuck",
            "--priority",
            "emergency",
            "--target",
            "gate-1",
        )
    )
    created = datetime.fromisoformat(order["created_at"])
    assert (datetime.fromisoformat(order["respond_by"]) - created).total_seconds() == 1800
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token)
    conn = local(cfg.store.path)
    await run_until(
        SyncClient(cfg, cfg.store.path),
        lambda: conn.execute("SELECT count(*) FROM work_orders").fetchone()[0] == 1,
    )
    pulled = [e.body for e in read_entries(conn) if e.kind == "site_changed"]
    assert [(b["actor"], b["interface"], b["action"]) for b in pulled] == [
        ("hub", "hub", "hub_work_orders")
    ]
    assert pulled[0]["details"]["orders"] == [order["id"]]
    # a butler's status changes, stored as the work-order engine stores them
    site = open_store(cfg.store.path)
    (pulled_order,) = wostore.load_ids(site, [order["id"]])
    for status, note in (("accepted", ""), ("on_site", "at the gate")):
        pulled_order, t = wo_rules.transition(
            pulled_order, status, "butler-7", datetime.now(UTC), note=note
        )
        with transaction(site):
            wostore.record(site, t, "mqtt")
    pushed = lambda: not workorders.unpushed(conn)  # noqa: E731
    await run_until(SyncClient(cfg, cfg.store.path), pushed)
    # as if the site crashed after the hub applied but before it marked the push
    conn.execute("UPDATE work_order_updates SET pushed_at = NULL")
    await run_until(SyncClient(cfg, cfg.store.path), pushed)
    shown = json.loads(hub_cli(ref_hub, "workorders", "show", "--site", "site-a", order["id"]))
    assert shown["status"] == "on_site"
    assert [h["status"] for h in shown["history"]] == ["accepted", "on_site"]
    # the hub closes it; the site sees that on its next pull
    hub_cli(ref_hub, "workorders", "close", "--site", "site-a", order["id"])
    await run_until(
        SyncClient(cfg, cfg.store.path),
        lambda: conn.execute("SELECT status FROM work_orders").fetchone()[0] == "closed",
    )


async def test_device_fault_opens_a_work_order(tmp_path: Path, ref_hub: RefHub) -> None:
    from edgectl.domain import GateCommandFailed
    from edgectl.store.journal import Journal

    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token)
    journal = Journal(cfg.store.path)
    for _ in range(3):  # repeated faults do not pile up orders while one is open
        await journal.append(
            GateCommandFailed(
                source="gate-1", at=datetime.now(UTC), command="open_gate", error="no answer"
            )
        )
    conn = local(cfg.store.path)
    await run_until(
        SyncClient(cfg, cfg.store.path),
        lambda: conn.execute("SELECT count(*) FROM work_orders").fetchone()[0] == 1,
    )
    row = conn.execute("SELECT id, kind, target, status FROM work_orders").fetchone()
    assert tuple(row) == ("F-1", "fault", "gate-1", "open")
    await journal.close()


def test_changes_after_compaction_are_not_skipped(tmp_path: Path) -> None:
    store = HubStore(tmp_path / "hub.db")
    store.add_site("s")
    store.put_record("s", "person", "a", {})
    store.put_record("s", "person", "b", {})
    store.delete_record("s", "person", "b")
    floor = store.compact("s")
    changes, seen, _ = store.changes("s", floor, 100)  # a site that saw the delete
    assert changes == [] and seen == floor
    store.put_record("s", "person", "c", {})
    changes, _, _ = store.changes("s", seen, 100)
    assert [c["id"] for c in changes] == ["c"]
    store.close()
