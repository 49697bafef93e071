"""`edgectl sync status`, the sync metrics and the `edgectl hub` commands, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client import REGISTRY
from typer.testing import CliRunner

from edgectl.cli.hub import app as hub_app
from edgectl.cli.sync import app as sync_app
from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal
from sync.client import SyncClient
from sync.codec import CONTRACT_VERSION
from tests.conftest import free_port, site_config, wait_port
from tests.sync_support import make_event, run_until

ROOT = Path(__file__).resolve().parent.parent


def status(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(sync_app, ["status", *args])
    return out.exit_code, out.output


async def test_status_shows_backlog_failures_and_metrics(tmp_path: Path) -> None:
    cfg = site_config(
        tmp_path, f"http://127.0.0.1:{free_port()}", "t", backoff_base_s=0.01, backoff_max_s=0.02
    )
    journal = Journal(cfg.store.path)
    await asyncio.gather(*(journal.append(make_event(i)) for i in range(5)))
    code, text = status("--db", cfg.store.path)
    assert code == 0
    assert "backlog:        5 events (acked 0 of 5)" in text
    assert "last sync:      never" in text and "failures:       none" in text
    conn = connect(cfg.store.path)
    await run_until(
        SyncClient(cfg, cfg.store.path),
        lambda: json.loads(kv.get(conn, kv.FAILURES, "{}")).get("transport", 0) >= 2,
    )
    code, text = status("--db", cfg.store.path)
    assert "failures:       transport=" in text
    assert "last error:     [transport] GET /v1/health: ClientConnectorError" in text
    assert REGISTRY.get_sample_value("edgectl_sync_backlog_events") == 5
    assert REGISTRY.get_sample_value("edgectl_sync_oldest_unsent_age_seconds") > 0
    assert REGISTRY.get_sample_value("edgectl_sync_failures_total", {"kind": "transport"}) >= 2
    cfg_file = tmp_path / "edgectl.toml"
    cfg_file.write_text(f'[site]\nid = "site-a"\n[store]\npath = "{cfg.store.path}"\n')
    code, text = status("--config", str(cfg_file), "--json")
    assert code == 0 and json.loads(text)["backlog"] == 5
    await journal.close()


def test_status_names_bad_input(tmp_path: Path) -> None:
    code, text = status("--db", str(tmp_path / "missing.db"))
    assert code == 2 and "no store at" in text
    bad = tmp_path / "bad.toml"
    bad.write_text("[site]\nid = 'x y'\n")
    code, text = status("--config", str(bad))
    assert code == 2 and "site.id" in text


def test_hub_sites_and_serve(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.db")
    runner = CliRunner()
    added = runner.invoke(hub_app, ["sites", "add", "north-gate", "--db", db, "--name", "North"])
    assert added.exit_code == 0 and len(added.output.strip()) > 20
    again = runner.invoke(hub_app, ["sites", "add", "north-gate", "--db", db])
    assert again.exit_code == 2 and "already exists" in again.output
    listed = json.loads(runner.invoke(hub_app, ["sites", "list", "--db", db]).output)
    assert [(s["id"], s["name"], s["acked_seq"]) for s in listed] == [("north-gate", "North", 0)]
    missing = runner.invoke(hub_app, ["cards", "revoke", "--site", "north-gate", "9", "--db", db])
    assert missing.exit_code == 2 and "no credential 9" in missing.output
    nosuch = runner.invoke(hub_app, ["events", "--site", "nosuch", "--db", db])
    assert nosuch.exit_code == 2
    assert "unknown site 'nosuch'; sites: north-gate" in nosuch.output
    assert (
        json.loads(runner.invoke(hub_app, ["events", "--site", "north-gate", "--db", db]).output)
        == []
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgectl", "hub", "serve", "--db", db, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=5) as resp:
            assert json.loads(resp.read()) == {"status": "ok", "contract": CONTRACT_VERSION}
    finally:
        proc.terminate()
        proc.wait(10)


def test_hub_refuses_records_a_site_would_refuse(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.db")
    runner = CliRunner()
    assert runner.invoke(hub_app, ["sites", "add", "s", "--db", db]).exit_code == 0
    bad = runner.invoke(hub_app, ["cards", "add", "--db", db, "--site", "s", "--person", "p"])
    assert bad.exit_code == 2 and "number: expected 0 to 65535" in bad.output
    bad = runner.invoke(
        hub_app, ["people", "add", "--db", db, "--site", "s", "p", "--role", "king"]
    )
    assert bad.exit_code == 2 and "role: expected one of" in bad.output
    pin = runner.invoke(
        hub_app,
        [
            "cards",
            "add",
            "--db",
            db,
            "--site",
            "s",
            "--person",
            "p",
            "--kind",
            "pin",
            "--pin",
            "2468",
        ],
    )
    assert pin.exit_code == 0, pin.output
    assert json.loads(pin.output)["id"] == 1  # the refused card took no id
