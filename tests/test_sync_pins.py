"""PINs travel and rest only as keyed digests, and every file holding secrets is 0600
(issue 12): through the hub CLI, the hub's HTTP API and a real site (the daemon on a
simulated compound) that pulls a card+PIN from the hub and decides it at the keypad."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

from edgectl.store import pinkeys
from sync.hub.store import HubStore
from tests.cli_helpers import edgectl
from tests.conftest import RefHub
from tests.test_daemon_reader import wait_for
from tests.test_e2e_hub import hub_cli, hub_site
from tests.test_hub_api import call

PIN = "482916"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def every_file(db: Path) -> list[Path]:
    return [p for p in (Path(f"{db}{s}") for s in ("", "-wal", "-shm")) if p.exists()]


async def decided(events: Any, compound: Any, *, card: int | None = None, keys: str = "") -> str:
    if card is not None:
        compound.reader.present("h10301", 12, card)
    else:
        compound.reader.keys(keys)
    return str((await wait_for(events, "access_decided")).body["reason"])


async def test_a_hub_pin_is_a_keyed_digest_everywhere_and_works_at_the_keypad(
    tmp_path: Path, ref_hub: RefHub
) -> None:
    await asyncio.to_thread(hub_cli, ref_hub, "levels", "add", "all", "--target", "main-gate")
    await asyncio.to_thread(hub_cli, ref_hub, "people", "add", "res-1", "--level", "all")
    add = ("cards", "add", "--person", "res-1", "--kind", "card_pin", "--facility", "12")
    out = await asyncio.to_thread(hub_cli, ref_hub, *add, "--number", "900", "--pin", PIN)
    assert PIN not in out and json.loads(out)["pin_digest"].startswith("h1:")
    # at rest at the hub: no PIN in any file; the DB, its WAL and the key file are 0600
    for f in every_file(ref_hub.db):
        assert PIN.encode() not in f.read_bytes()
        assert mode(f) == 0o600, f
    key_file = Path(f"{ref_hub.db}.keys") / "site-a.key"
    assert mode(key_file) == 0o600 and mode(key_file.parent) == 0o700
    # on the wire: only the digest
    status, doc = await call(ref_hub, "GET", "/v1/sites/site-a/changes")
    assert status == 200 and PIN not in json.dumps(doc)
    card = next(r for r in doc["changes"] if r["type"] == "credential")
    assert "pin" not in card["data"] and card["data"]["pin_digest"].startswith("h1:")

    async with hub_site(tmp_path, ref_hub) as (compound, _, events):
        async with asyncio.timeout(15):  # the pull is asynchronous
            while await decided(events, compound, card=900) != "pin_required":
                await asyncio.sleep(0.2)
        assert await decided(events, compound, keys="111111") == "pin_wrong"
        assert await decided(events, compound, card=900) == "pin_required"
        assert await decided(events, compound, keys=PIN) == "granted"
    site_db = Path(compound.config.store.path)
    for f in [*every_file(site_db), pinkeys.keyring_path(site_db)]:
        assert mode(f) == 0o600, f
        assert PIN.encode() not in f.read_bytes()
    store = HubStore(ref_hub.db)
    hub_key = store.pin_key("site-a")
    store.close()
    assert pinkeys.read_keys(pinkeys.keyring_path(site_db))[-1] == hub_key


def test_service_install_writes_the_config_0600(tmp_path: Path) -> None:
    result = edgectl("service", "install", "--root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    config = tmp_path / "etc/edgectl/config.toml"
    assert mode(config) == 0o600 and "0600" in result.stdout
