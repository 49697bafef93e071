"""Access-policy and work-order commands over MQTT, through the rules and sync engines:
visitor passes, credential status, modes, anti-passback, work orders, queries."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store import pinkeys, workorders
from edgectl.store.db import open_store
from rules.access import pin_candidates
from tests.conftest import SecureBroker
from tests.mqtt_console import GATE, READER, console, now_iso, online, running_site
from tests.test_daemon_reader import wait_for


def credential(path: str, code: str) -> tuple[str, str, str | None]:
    conn = sqlite3.connect(path)
    try:
        # the code is kept only as digests: look it up the way the site does
        digests = pin_candidates(code, pinkeys.read_keys(pinkeys.keyring_path(path)))
        row = conn.execute(
            "SELECT person_id, status, valid_until FROM credentials "
            f"WHERE secret IN ({','.join('?' * len(digests))})",
            digests,
        ).fetchone()
        return tuple(row)  # type: ignore[return-value]
    finally:
        conn.close()


async def test_visitor_pass_in_one_request_then_revoked(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    until = datetime.now(UTC) + timedelta(hours=3)
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
    ):
        path = site.compound.config.store.path
        await site.daemon.site.call(
            SiteService.upsert_person, "res-12-3", name="Mr Chen", actor=SYSTEM
        )
        body = {"name": "Wang Wei", "host": "res-12-3", "until": until.isoformat(),
                "gates": [GATE]}  # fmt: skip
        reply = await gina.request("visitor/issue", body)
        assert reply["status"] == "ok", reply
        code = reply["result"]["code"]
        assert code.isdigit()
        person, status, valid_until = credential(path, code)
        assert (person, status) == (reply["result"]["person_id"], "active")
        assert person.startswith("visitor:") and code not in person  # a pass id, not the code
        assert valid_until and datetime.fromisoformat(valid_until) == until
        assert (await gina.request("visitor/revoke", {"code": code}))["status"] == "ok"
        assert credential(path, code)[1] == "revoked"
        missing = await gina.request("visitor/revoke", {"code": "00000000"})
        assert missing["code"] == "not_found"
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        body["until"] = past
        assert (await gina.request("visitor/issue", body))["code"] == "bad_request"
        body["until"], body["gates"] = until.isoformat(), ["gate-404"]
        assert (await gina.request("visitor/issue", body))["code"] == "unknown_device"


async def test_suspended_card_is_then_denied_at_the_reader(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "alice") as alice,
    ):
        daemon, reader = site.daemon, site.compound.reader
        events = daemon.journal.subscribe()
        await daemon.site.call(SiteService.add_card, "p1", 12, 345, actor=SYSTEM)
        await online(daemon, READER)
        reader.present("h10301", 12, 345)
        assert (await wait_for(events, "access_decided")).body["granted"] is True
        await site.coils_become(["open"])  # granted at the gate's reader: the gate opened
        reply = await alice.request("credential/suspend", {"facility": 12, "number": 345})
        assert reply["status"] == "ok", reply
        reader.present("h10301", 12, 345)
        denied = await wait_for(events, "access_decided")
        assert (denied.body["granted"], denied.body["reason"]) == (False, "suspended")
        revoke = await alice.request("credential/revoke", {"facility": 12, "number": 345})
        assert revoke["code"] == "forbidden"  # revoking is for admins
        recent = await alice.request("query/events", {"kinds": ["access_decided"], "limit": 5})
        assert [e["body"]["granted"] for e in recent["result"]["events"]] == [True, False]


async def test_emergency_lockdown_and_forgive_through_the_rules_engine(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
    ):
        reply = await gina.request("emergency/on")
        assert reply["status"] == "ok", reply
        assert GATE in reply["result"]["actuated"]
        assert site.coils == ["open"]  # emergency opened the gate on the wire
        assert (await gina.request("emergency/off"))["code"] == "forbidden"  # admins only
        assert (await gina.request("lockdown/on"))["status"] == "ok"
        assert (await gina.request("lockdown/off"))["code"] == "forbidden"
        async with console(secure_broker, "alice") as alice:
            assert (await alice.request("lockdown/off"))["status"] == "ok"
            forgive = await alice.request("antipassback/forgive", {"person_id": "p1"})
            assert forgive["result"] == {"forgotten": 0}


async def test_work_order_status_is_recorded_for_the_hub(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
    ):
        conn = open_store(site.daemon.config.store.path)  # the hub's pull, in effect
        conn.execute("BEGIN")
        workorders.store_orders(conn, [{
            "id": "wo-1", "kind": "repair", "priority": "service", "title": "barrier arm",
            "status": "open", "created_at": now_iso(), "respond_by": now_iso(),
            "complete_by": now_iso(),
        }])  # fmt: skip
        conn.execute("COMMIT")
        site.daemon.operations.workorders.reload(["wo-1"])  # as the sync client does
        for status in ("accepted", "on_site"):
            reply = await gina.request("workorder/status", {"order_id": "wo-1", "status": status})
            assert reply["status"] == "ok", reply
        want = [("wo-1", "accepted", "gina"), ("wo-1", "on_site", "gina")]
        # the operations writer commits after the reply: wait for what it records
        deadline = asyncio.get_running_loop().time() + 10
        while (got := [(u.order_id, u.status, u.by) for u in workorders.unpushed(conn)]) != want:
            assert asyncio.get_running_loop().time() < deadline, got
            await asyncio.sleep(0.05)
        bad = await gina.request("workorder/status", {"order_id": "wo-1", "status": "done"})
        assert bad["code"] == "bad_request" and "next is 'diagnosed'" in bad["message"]
        missing = await gina.request("workorder/status", {"order_id": "wo-2", "status": "done"})
        assert missing["code"] == "not_found"
