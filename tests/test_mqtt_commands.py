"""Operators' commands over a real mosquitto (TLS, passwords, the shipped ACL) into a real
daemon running the simulated compound: the gate's coil is written on the Modbus wire."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from edgectl.store.journal import Entry, read_entries
from tests.conftest import SecureBroker
from tests.mqtt_console import BASE, DOOR, GATE, console, now_iso, running_site


def operator_commands(path: str) -> list[Entry]:
    conn = sqlite3.connect(path)
    try:
        return read_entries(conn, 0, 10000, ("operator_command",))
    finally:
        conn.close()


async def journaled(path: str, n: int) -> list[Entry]:
    """The operator_command rows, once there are ``n`` (journal commits are asynchronous)."""
    for _ in range(100):
        rows = operator_commands(path)
        if len(rows) >= n:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {n} operator_command rows, got {operator_commands(path)}")


async def test_operator_opens_gate_coil_written_before_ok_and_journaled(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "alice") as alice,
    ):
        reply = await alice.request("gate/open", {"target": GATE}, correlation=b"req-1")
        assert site.coils == ["open"]  # on the simulated gate, before the reply arrived
        assert reply["status"] == "ok", reply
        assert reply["result"] == {"target": GATE}
        assert reply["_correlation"] == b"req-1"
        assert (await alice.request("gate/stop", {"target": GATE}))["status"] == "ok"
        assert site.coils == ["open", "stop"]
        reply = await alice.request("door/unlock", {"target": DOOR, "seconds": 3})
        assert reply["status"] == "ok"
        await site.strike_becomes([True])  # energised on the I/O module's coil
        assert (await alice.request("door/hold", {"target": DOOR}))["status"] == "ok"
        await site.strike_becomes([True, True])  # held: the pulse's relock is cancelled
        path = site.compound.config.store.path
    rows = await journaled(path, 4)
    assert [(r.source, r.body["command"], r.body["target"], r.body["outcome"]) for r in rows] == [
        ("alice", "gate/open", GATE, "ok"),
        ("alice", "gate/stop", GATE, "ok"),
        ("alice", "door/unlock", DOOR, "ok"),
        ("alice", "door/hold", DOOR, "ok"),
    ]
    assert rows[0].body["interface"] == "mqtt"


async def test_viewer_is_forbidden_and_nothing_moves(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "victor") as victor,
    ):
        reply = await victor.request("gate/open", {"target": GATE})
        assert (reply["status"], reply["code"]) == ("error", "forbidden")
        assert "needs role guard" in reply["message"]
        devices = await victor.request("query/devices")
        ids = {d["id"] for d in devices["result"]["devices"]}
        assert ids == {GATE, DOOR, "main-gate-in", "ped-door", "ped-intercom"}
        assert site.coils == []
        path = site.compound.config.store.path
    rows = await journaled(path, 2)
    assert (rows[0].source, rows[0].body["outcome"]) == ("victor", "error")
    assert rows[0].body["error"].startswith("forbidden:")


async def test_guard_cannot_hold_door_but_can_unlock(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
    ):
        assert (await gina.request("door/hold", {"target": DOOR}))["code"] == "forbidden"
        assert (await gina.request("door/unlock", {"target": DOOR}))["status"] == "ok"
        await site.strike_becomes([True])


async def test_publishing_under_another_operators_id_is_stopped_by_the_broker(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "victor") as victor,
        console(secure_broker, "alice") as alice,
    ):
        forged = {"issued_at": now_iso(), "transaction": "x1", "target": GATE}
        await victor.send("gate/open", forged, operator="alice")
        # alice's own request after it proves the daemon is alive and saw nothing before
        reply = await alice.request("query/events", {"kinds": ["operator_command"]})
        assert reply["result"]["events"] == []
        assert site.coils == []
        with pytest.raises(TimeoutError):
            await alice.reply(timeout=0.3)  # victor's forged command got no reply to alice


async def test_replayed_and_stale_commands_are_refused(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker, command_window_s=5) as site,
        console(secure_broker, "alice") as alice,
    ):
        body = {"issued_at": now_iso(), "target": GATE}
        assert (await alice.request("gate/open", body, correlation=b"abc"))["status"] == "ok"
        again = await alice.request("gate/open", body, correlation=b"abc")
        assert (again["status"], again["code"]) == ("error", "replay")
        old = (datetime.now(UTC) - timedelta(seconds=6)).isoformat()
        stale = await alice.request("gate/open", {"issued_at": old, "target": GATE})
        assert stale["code"] == "stale"
        future = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
        ahead = await alice.request("gate/open", {"issued_at": future, "target": GATE})
        assert ahead["code"] == "stale"
        assert site.coils == ["open"]


async def test_replay_is_refused_across_a_daemon_restart(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    body = {"issued_at": now_iso(), "target": GATE}
    async with (
        running_site(tmp_path, secure_broker, command_window_s=30),
        console(secure_broker, "alice") as alice,
    ):
        assert (await alice.request("gate/open", body, correlation=b"xyz"))["status"] == "ok"
    async with (
        running_site(tmp_path, secure_broker, command_window_s=30) as site,
        console(secure_broker, "alice") as alice,
    ):
        again = await alice.request("gate/open", body, correlation=b"xyz")
        assert (again["status"], again["code"]) == ("error", "replay")
        assert site.coils == []  # the restarted daemon moved nothing


BAD: list[tuple[str, bytes | dict[str, Any], str]] = [
    ("gate/open", b"{not json", "bad_json"),
    ("gate/open", b"[1, 2]", "bad_json"),
    ("gate/open", b"\xff\xfe", "bad_json"),
    ("gate/open", {"target": 7}, "bad_request"),
    ("gate/open", {}, "bad_request"),
    ("gate/open", {"target": GATE, "taget": "x"}, "bad_request"),
    ("gate/open", {"target": "gate-9"}, "unknown_device"),
    ("gate/open", {"target": DOOR}, "unknown_device"),
    ("gate/explode", {"target": GATE}, "unknown_command"),
    ("door/unlock", {"target": DOOR, "seconds": 3600}, "bad_request"),
    ("door/unlock", {"target": DOOR, "seconds": True}, "bad_request"),
    ("gate/open", {"target": GATE, "pad": "x" * 20000}, "too_large"),
    ("visitor/issue", {"name": "V", "host": "h", "until": "soon", "gates": ["g"]}, "bad_request"),
]


async def test_bad_input_gets_error_response_and_no_action(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "alice") as alice,
    ):
        for command, body, code in BAD:
            reply = await alice.request(command, body)
            assert (reply["status"], reply["code"]) == ("error", code), (command, body, reply)
            assert reply["message"]
        assert site.coils == [] and site.strike == []
        assert site.mqtt.connected.is_set()
        path = site.compound.config.store.path
    rows = await journaled(path, len(BAD))
    assert {(r.source, r.body["outcome"]) for r in rows} == {("alice", "error")}


async def test_command_without_operator_level_is_dropped_with_a_log(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    body = json.dumps({"issued_at": now_iso(), "transaction": "t", "target": GATE})
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "edgectl") as daemon_user,
    ):
        with capture_logs() as logs:
            for topic in ("cmd/gate/open", "cmd/alice/gate", "cmd/alice/gate/open/now", "cmd"):
                await daemon_user.client.publish(f"{BASE}/{topic}", body, qos=1)
            async with console(secure_broker, "alice") as alice:
                assert (await alice.request("query/devices"))["status"] == "ok"
        dropped = [e["topic"] for e in logs if e["event"] == "mqtt_command_dropped"]
        assert f"{BASE}/cmd/gate/open" in dropped and f"{BASE}/cmd/alice/gate" in dropped
        assert site.coils == []
        path = site.compound.config.store.path
    assert len(operator_commands(path)) == 1  # only alice's query
