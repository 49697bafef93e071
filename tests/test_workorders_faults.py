"""Device faults become work orders in the real daemon: a simulated gate fault on the bus,
accepted from the CLI, escalated on a fake clock, closed by recovery, reopened on repeat."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from edgectl.simulation import simulated_compound
from tests.cli_helpers import edgectl
from tests.conftest import SecureBroker
from tests.mqtt_console import BASE, console, online, running_site
from tests.ops_site import ROSTER, ROUTE, WORKORDERS, FakeClock, daemon_at, journal, tick, wait_for


async def test_a_gate_fault_becomes_an_order_that_is_accepted_escalated_and_closed(
    tmp_path: Path,
) -> None:
    overrides = {"roster": ROSTER, "workorders": WORKORDERS}
    clock = FakeClock(datetime.now(UTC))
    async with (
        simulated_compound(tmp_path, overrides) as compound,
        daemon_at(compound.config, clock) as (daemon, events),
    ):
        await wait_for(events, "gate_state")
        gate = compound.gates.gates[1].model
        gate.fault_code = 7  # the simulated gate reports a fault on its registers
        created = await wait_for(events, "workorder_created")
        order_id = created.body["order_id"]
        assert created.body["origin"] == "fault" and created.body["target"] == "main-gate"
        assert created.body["priority"] == "emergency" and created.body["assignee"] == "eng-wang"
        accepted = await asyncio.to_thread(
            edgectl, "workorders", "transition", order_id, "accepted", "--as", "eng-wang",
            "--config", str(compound.config_path),
        )  # fmt: skip
        assert accepted.returncode == 0, accepted.stderr
        assert "new -> accepted" in accepted.stdout
        change = await wait_for(events, "workorder_changed")
        assert change.body["status"] == "accepted" and change.source.endswith(":eng-wang")
        await tick(daemon, clock, seconds=1801)  # emergency: on site within 30 minutes
        late = await wait_for(events, "workorder_overdue")
        assert (late.body["stage"], late.body["level"], late.body["to"]) == (
            "on_site", 0, "eng-wang"
        )  # fmt: skip
        await tick(daemon, clock, seconds=600)
        up = await wait_for(events, "workorder_overdue")
        assert (up.body["stage"], up.body["level"], up.body["to"]) == ("on_site", 1, "sup-chen")
        gate.fault_code = 0  # repaired: the order is done by the device
        done = await wait_for(events, "workorder_changed")
        assert (done.body["status"], done.body["note"]) == ("done", "device_recovered")
        gate.fault_code = 7  # the same fault again: the order reopens, no duplicate
        again = await wait_for(events, "workorder_changed")
        assert (again.body["order_id"], again.body["status"]) == (order_id, "new")
        assert again.body["note"] == "fault_repeated"
    assert len(journal(compound.config, "workorder_created")) == 1
    listed = await asyncio.to_thread(
        edgectl, "workorders", "list", "--json", "--config", str(compound.config_path)
    )
    assert listed.returncode == 0 and order_id in listed.stdout


async def test_orders_over_mqtt_with_roles_and_the_assignee_topic(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    roster = [{"staff": "gina", "role": "engineer"}, {"staff": "alice", "role": "butler"}]
    overrides = {"roster": roster, "patrol": {"routes": [ROUTE]}}
    async with (
        running_site(tmp_path, secure_broker, site_overrides=overrides) as site,
        console(secure_broker, "gina", subscribe=("edgectl/riverside/butler/gina/#",)) as gina,
        console(
            secure_broker,
            "victor",
            subscribe=(f"{BASE}/event/workorder_created", f"{BASE}/butler/#"),
        ) as victor,
        console(secure_broker, "alice") as alice,
    ):
        events = site.daemon.journal.subscribe()
        await online(site.daemon, "main-gate")
        site.compound.gates.gates[1].model.fault_code = 3
        mine = await gina.message("edgectl/riverside/butler/gina/workorder_created")
        assert mine["body"]["target"] == "main-gate" and mine["body"]["assignee"] == "gina"
        order_id = mine["body"]["order_id"]
        # a viewer gets the order on the public stream, the assignee only as a pseudonym
        # (gina's own topic is hers alone: the broker's ACL, tests/test_mqtt_routing.py)
        async with asyncio.timeout(5):
            first = await anext(aiter(victor.client.messages))
        assert str(first.topic) == f"{BASE}/event/workorder_created"
        assert isinstance(first.payload, bytes) and b"gina" not in first.payload
        public = json.loads(first.payload)["body"]
        assert public["order_id"] == order_id and public["assignee"].startswith("~")
        reply = await gina.request(
            "workorder/transition", {"order_id": order_id, "status": "accepted"}
        )
        assert reply["status"] == "ok" and reply["result"]["previous"] == "new", reply
        skip = await gina.request("workorder/transition", {"order_id": order_id, "status": "done"})
        assert skip["code"] == "bad_request" and "next is 'on_site'" in skip["message"]
        denied = await victor.request("workorder/create", {"title": "Broken bench"})
        assert denied["code"] == "forbidden"
        made = await alice.request(
            "workorder/create", {"title": "Broken bench", "priority": "service"}
        )
        assert made["status"] == "ok", made
        assert made["result"]["source"] == "operator" and made["result"]["assignee"] == "alice"
        by_device = await wait_for(events, "workorder_created")  # the gate fault's, first
        audit = await wait_for(events, "workorder_created")
        assert by_device.source == "device" and by_device.body["channel"] == "fault"
        assert audit.source == "alice" and audit.body["channel"] == "mqtt"
        started = await alice.request("patrol/start", {"route": "night", "guard": "gina"})
        assert started["status"] == "ok" and started["result"]["guard"] == "gina", started
        badged = await gina.request("patrol/badge", {"checkpoint": "tag-1"})  # her handheld
        assert badged["result"]["results"][0]["result"] == "on_time", badged
        tours = await victor.request("patrol/tours")
        assert tours["result"]["tours"][0]["checkpoints"] == {"tag-1": "on_time"}
        assert (await victor.request("patrol/start", {"route": "night"}))["code"] == "forbidden"
