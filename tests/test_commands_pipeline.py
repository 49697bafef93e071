"""Issue 9, item 3: one command pipeline. The control socket and MQTT run the same table,
with the same names, roles, timeouts and journaling."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from edgectl.commands import local
from edgectl.commands.roles import Role, RoleTable
from edgectl.commands.schema import Field, text
from edgectl.commands.settings import CommandSettings
from edgectl.commands.table import COMMANDS, Context, Spec
from edgectl.config import Operator
from edgectl.control_client import request
from tests.conftest import SecureBroker
from tests.mqtt_console import GATE, console, running_site
from tests.test_mqtt_commands import journaled


async def control(site: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    path = site.compound.config.daemon.control_socket
    return await request(path, "POST", "/v1/commands", body)


async def test_gate_open_via_control_socket_and_mqtt_journal_the_same_shape(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "alice") as alice,
    ):
        status, reply = await control(site, {"command": "gate/open", "target": GATE})
        assert (status, reply["status"], reply["result"]) == (200, "ok", {"target": GATE})
        mqtt = await alice.request("gate/open", {"target": GATE}, correlation=b"same-shape")
        assert mqtt["result"] == reply["result"]
        await site.coils_become(["open", "open"])
        path = site.compound.config.store.path
    by_socket, by_mqtt = await journaled(path, 2)
    assert set(by_socket.body) == set(by_mqtt.body)
    same = ("command", "target", "params", "outcome", "error")
    assert [by_socket.body[k] for k in same] == [by_mqtt.body[k] for k in same]
    assert (by_socket.kind, by_socket.cls) == (by_mqtt.kind, by_mqtt.cls)
    assert (by_socket.body["interface"], by_mqtt.body["interface"]) == ("control", "mqtt")
    assert by_socket.source == f"local:{local.user_name(os.getuid())}"
    assert by_mqtt.source == "alice"


async def test_control_socket_refusals_are_answered_and_journaled(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with running_site(tmp_path, secure_broker) as site:
        status, reply = await control(site, {"command": "gate/fly", "target": GATE})
        assert (status, reply["code"]) == (400, "unknown_command")
        status, reply = await control(site, {"command": "gate/open", "target": "nope"})
        assert (status, reply["code"]) == (404, "unknown_device")
        status, reply = await control(site, {"command": "gate/open"})
        assert (status, reply["code"]) == (400, "bad_request")
        path = site.compound.config.store.path
    rows = await journaled(path, 3)
    assert [r.body["error"].split(":")[0] for r in rows] == [
        "unknown_command",
        "unknown_device",
        "bad_request",
    ]
    assert {r.body["interface"] for r in rows} == {"control"}


async def test_a_new_noun_verb_is_one_table_entry_for_both_interfaces(
    tmp_path: Path, secure_broker: SecureBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def preset(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        return {"camera": p["target"], "preset": p["preset"], "by": ctx.operator}

    schema = {"target": Field(text(64)), "preset": Field(text(16))}
    monkeypatch.setitem(COMMANDS, "camera/preset", Spec(Role.GUARD, schema, preset))
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
        console(secure_broker, "victor") as victor,
    ):
        body = {"target": "cam-1", "preset": "gate"}
        assert (await gina.request("camera/preset", body))["result"]["by"] == "gina"
        assert (await victor.request("camera/preset", body))["code"] == "forbidden"
        status, reply = await control(site, {"command": "camera/preset", **body})
        assert status == 200 and reply["result"]["camera"] == "cam-1"
        path = site.compound.config.store.path
    rows = await journaled(path, 3)
    assert [(r.body["interface"], r.body["outcome"]) for r in rows] == [
        ("mqtt", "ok"),
        ("mqtt", "error"),
        ("control", "ok"),
    ]


async def test_command_timeout_is_the_tables_and_is_journaled(
    tmp_path: Path, secure_broker: SecureBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def stuck(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    monkeypatch.setitem(COMMANDS, "test/stuck", Spec(Role.GUARD, {}, stuck, timeout_s=0.2))
    async with running_site(tmp_path, secure_broker) as site:
        status, reply = await control(site, {"command": "test/stuck"})
        assert (status, reply["code"]) == (504, "timeout")
        path = site.compound.config.store.path
    (row,) = await journaled(path, 1)
    assert row.body["error"].startswith("timeout:")


def test_local_users_are_admin_by_group_or_have_a_configured_role() -> None:
    settings = CommandSettings(local_admin_group="no-such-group-here")
    nobody = 65534
    name = local.user_name(nobody)
    assert local.identity(0, RoleTable(()), settings) == ("local:root", Role.ADMIN)
    assert local.identity(nobody, RoleTable(()), settings) == (f"local:{name}", None)
    table = RoleTable((Operator(f"local:{name}", "guard"),))
    assert local.identity(nobody, table, settings) == (f"local:{name}", Role.GUARD)
