"""The daemon and the reference hub: cards pulled from head office open the gate, a
revocation reaches the gate, and every decision reaches the hub, in order, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from edgectl.daemon import Daemon
from edgectl.simulation import simulated_compound
from edgectl.store.db import connect
from edgectl.store.journal import head_seq, read_entries
from sync.hub.store import HubStore
from tests.cli_helpers import edgectl
from tests.test_daemon_reader import wait_for


def journal_head(path: Path) -> int:
    conn = connect(path, readonly=True)
    try:
        return head_seq(conn)
    finally:
        conn.close()


def hub_cli(hub: Any, *args: str) -> str:
    result = edgectl("hub", *args, "--db", str(hub.db), "--site", hub.site)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@asynccontextmanager
async def hub_site(tmp_path: Path, hub: Any) -> AsyncIterator[tuple[Any, Daemon, Any]]:
    """The daemon on a simulated compound, syncing with ``hub``: (compound, daemon, events),
    once its gate reports; the daemon stops on exit."""
    overrides = {
        "site": {"id": hub.site},
        "hub": {"enabled": True, "url": hub.url, "token": hub.token, "interval_s": 0.2},
    }
    async with simulated_compound(tmp_path / "site", overrides) as compound:
        daemon = Daemon(compound.config)
        await daemon.start()
        events = daemon.journal.subscribe()
        try:
            await wait_for(events, "gate_state")
            yield compound, daemon, events
        finally:
            await daemon.stop()


async def decide_until(daemon: Daemon, compound: Any, events: Any, reason: str) -> dict[str, Any]:
    """Present card 12:777 until the decision has ``reason`` (the pull is asynchronous)."""
    async with asyncio.timeout(15):
        while True:
            compound.reader.present("h10301", 12, 777)
            decided = await wait_for(events, "access_decided")
            if decided.body["reason"] == reason:
                return decided.body
            await asyncio.sleep(0.2)


async def test_hub_card_pulled_granted_then_revoked_and_events_forwarded(
    tmp_path: Path, ref_hub: Any
) -> None:
    await asyncio.to_thread(
        hub_cli, ref_hub, "levels", "add", "everywhere", "--target", "main-gate"
    )
    await asyncio.to_thread(
        hub_cli, ref_hub, "people", "add", "res-777", "--name", "Mr Chen", "--level", "everywhere"
    )
    card = await asyncio.to_thread(
        hub_cli,
        ref_hub,
        "cards",
        "add",
        "--person",
        "res-777",
        "--facility",
        "12",
        "--number",
        "777",
    )
    async with hub_site(tmp_path, ref_hub) as (compound, daemon, events):
        granted = await decide_until(daemon, compound, events, "granted")
        assert granted["person_id"] == "res-777"
        async with asyncio.timeout(2):  # the coil write may land just after the journal
            while not compound.gates.gates[1].model.commands:
                await asyncio.sleep(0.005)
        assert [n for _, n in compound.gates.gates[1].model.commands] == ["open"]
        await asyncio.to_thread(hub_cli, ref_hub, "cards", "revoke", str(json.loads(card)["id"]))
        await decide_until(daemon, compound, events, "revoked")
        pulls = [
            e.body for e in read_entries(daemon.journal.conn, 0, 100000) if e.kind == "site_changed"
        ]
        assert len(pulls) >= 2  # the card's arrival and its revocation, each audited
        assert {(b["actor"], b["interface"], b["action"]) for b in pulls} == {
            ("hub", "hub", "hub_changes")
        }
        assert pulls[0]["details"]["counts"]["credential_upsert"] == 1
        head = journal_head(daemon.journal.path)
        async with asyncio.timeout(10):
            while HubStore(ref_hub.db).acked(ref_hub.site) < head:
                await asyncio.sleep(0.1)
    store = HubStore(ref_hub.db)
    forwarded = store.events(ref_hub.site, 0, 100000)
    store.close()
    assert [e["seq"] for e in forwarded] == list(range(1, len(forwarded) + 1))
    reasons = [e["body"]["reason"] for e in forwarded if e["kind"] == "access_decided"]
    assert reasons[-1] == "revoked" and "granted" in reasons
