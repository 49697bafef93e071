"""The work-order, patrol and facilities command lines against a running daemon."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from pathlib import Path

from edgectl.commands import local
from tests.cli_helpers import edgectl
from tests.daemon_helpers import running, wait_for_kinds
from tests.ops_site import journal, ops_site


async def cli(config: Path, *args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(edgectl, *args, "--config", str(config))
    return result.returncode, result.stdout, result.stderr


async def test_desk_request_butler_moves_and_patrol_from_the_cli(tmp_path: Path) -> None:
    config = ops_site(tmp_path, zone="Asia/Shanghai")
    path = tmp_path / "config.toml"
    async with running(config) as (_, events):
        code, out, err = await cli(
            path,
            "workorders",
            "create",
            "No hot water, 5-302",
            "--source",
            "desk",
            "--as",
            "desk-mei",
        )
        assert code == 0, err
        seen = await wait_for_kinds(events, "workorder_created", "operator_command")
        created, command = seen["workorder_created"], seen["operator_command"]
        assert created.body["origin"] == "desk" and created.body["assignee"] == "butler-li"
        assert created.source.endswith(":desk-mei") and created.body["channel"] == "control"
        # through the one command pipeline, journaled like every command
        assert command.body["command"] == "workorder/create"
        assert command.body["interface"] == "control" and command.body["outcome"] == "ok"
        assert command.source == created.source.removesuffix(":desk-mei")
        order_id = created.body["order_id"]
        assert order_id in out
        code, _, err = await cli(path, "workorders", "transition", order_id, "on_site")
        assert code == 1 and "next is 'accepted'" in err  # the lifecycle is enforced
        for status in ("accepted", "on_site"):
            assert (await cli(path, "workorders", "transition", order_id, status))[0] == 0
        code, _, err = await cli(path, "workorders", "transition", order_id, "diagnosed")
        assert code == 1 and "estimated fix time" in err
        code, _, err = await cli(
            path, "workorders", "transition", order_id, "diagnosed", "--fix-in", "90"
        )
        assert code == 0, err
        code, out, err = await cli(path, "workorders", "assign", order_id, "butler-wang")
        assert code == 0 and "assigned to butler-wang" in out, err
        seen = await wait_for_kinds(
            events,
            "workorder_changed",
            "site_changed",
            match=lambda e: (
                e.body.get("note") == "assigned" or e.body.get("action") == "workorder_assign"
            ),
        )
        assigned, audit = seen["workorder_changed"], seen["site_changed"]
        assert (assigned.body["assignee"], assigned.body["order_id"]) == ("butler-wang", order_id)
        assert assigned.body["status"] == assigned.body["previous"] == "diagnosed"
        assert audit.body["details"] == {"assignee": "butler-wang"}
        code, _, err = await cli(path, "workorders", "create", "x", "--priority", "someday")
        assert code == 1 and "priority" in err
        code, out, err = await cli(path, "patrol", "start", "night", "--guard", "guard-zhao")
        assert code == 0 and "started night-" in out, err
        code, out, _ = await cli(path, "patrol", "tours", "--json")
        tours = json.loads(out)["tours"]
        assert [t["route"] for t in tours] == ["night"] and tours[0]["status"] == "active"
        code, out, _ = await cli(path, "patrol", "routes")
        assert code == 0 and "tag-1" in out and "fixed" in out
        code, _, err = await cli(path, "patrol", "start", "nowhere")
        assert code == 1 and "no route 'nowhere'" in err
    today = datetime.now(config.site.zone).date().isoformat()
    code, out, err = await cli(path, "workorders", "report", "--day", today, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["by_source"] == {"desk": 1} and report["compliance"]["accept"] == 100.0
    code, _, err = await cli(path, "workorders", "report", "--day", "tomorrow")
    assert code == 2 and "YYYY-MM-DD" in err


async def test_the_cli_says_when_no_daemon_keeps_the_orders(tmp_path: Path) -> None:
    ops_site(tmp_path)
    code, _, err = await cli(tmp_path / "config.toml", "workorders", "create", "Leak")
    assert code == 1 and "daemon is not running" in err


async def test_the_cli_runs_under_the_local_users_role(tmp_path: Path) -> None:
    """The CLI's commands are the table's: a local user who is only a viewer may not open a
    work order, and the refusal is journaled like any command's."""
    me = f"local:{local.user_name(os.getuid())}"
    config = ops_site(tmp_path, operators=[{"id": me, "role": "viewer"}])
    path = tmp_path / "config.toml"
    async with running(config) as (_, events):
        code, _, err = await cli(path, "workorders", "create", "Leak")
        assert code == 1 and "forbidden" in err and "needs role guard" in err
        refused = (await wait_for_kinds(events, "operator_command"))["operator_command"]
        assert refused.source == me and refused.body["command"] == "workorder/create"
        assert (refused.body["interface"], refused.body["outcome"]) == ("control", "error")
    assert journal(config, "workorder_created") == []
