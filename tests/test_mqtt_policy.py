"""Access-policy commands over MQTT: visitor passes, credential status, queries, and the
operations still waiting on the rules engine answering ``unsupported``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgectl.domain import Command, HoldRelay, OpenGate
from edgectl.mqtt import AccessOps
from tests.conftest import SecureBroker
from tests.mqtt_console import DOOR, GATE, READER, console, online, running_site
from tests.test_daemon_reader import wait_for


def credential(path: str, number: int) -> tuple[str, str, str | None]:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT c.person_id, c.status, c.valid_until FROM credentials c WHERE number = ?",
            (number,),
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
        body = {"name": "Wang Wei", "host": "unit-12-3", "until": until.isoformat(),
                "gates": [GATE]}  # fmt: skip
        reply = await gina.request("visitor/issue", body)
        assert reply["status"] == "ok", reply
        code = reply["result"]["code"]
        assert len(code) == 8 and code.isdigit()
        person, status, valid_until = credential(path, int(code))
        assert (person, status) == (f"visitor:{code}", "active")
        assert valid_until and datetime.fromisoformat(valid_until) == until
        assert (await gina.request("visitor/revoke", {"code": code}))["status"] == "ok"
        assert credential(path, int(code))[1] == "revoked"
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
        daemon.index.add_card("p1", 12, 345)
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


async def test_policy_operations_not_in_this_build_answer_unsupported(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with running_site(tmp_path, secure_broker), console(secure_broker, "alice") as alice:
        for command, body in [
            ("lockdown/on", {}),
            ("emergency/on", {}),
            ("antipassback/forgive", {"person_id": "p1"}),
            ("workorder/status", {"order_id": "wo-1", "status": "done"}),
        ]:
            reply = await alice.request(command, body)
            assert (reply["status"], reply["code"]) == ("error", "unsupported"), reply
        assert (await alice.request("emergency/off"))["code"] == "forbidden"


class ModesOps(AccessOps):
    """The adapter as it will be once the rules engine is merged: emergency opens the gate
    and releases the lobby door (the real rules return such commands from set_emergency)."""

    def set_emergency(self, on: bool, by: str, now: datetime) -> tuple[Command, ...]:
        return (OpenGate(target=GATE), HoldRelay(target=DOOR, on=on), OpenGate(target="gone"))


async def test_emergency_carries_out_the_mode_commands_and_lists_failures(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
    ):
        site.mqtt.ops = ModesOps(site.daemon.index)
        reply = await gina.request("emergency/on")
        assert reply["status"] == "ok", reply
        assert reply["result"]["actuated"] == [GATE, DOOR]
        assert "gone" in reply["result"]["failed"]
        assert site.coils == ["open"]
        assert await site.door.received.get() == HoldRelay(target=DOOR, on=True)
