"""End to end: the simulated compound's 2N intercom at the pedestrian door, run by the
daemon, operated over MQTT against the secure broker. Calls reach operators at once,
``intercom/open`` switches the relay, a missed call reaches the butler on duty, and a
visitor pass issued while answering works at the intercom's keypad."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.evidence import EvidenceStore
from edgectl.store.journal import Entry
from tests.conftest import SecureBroker
from tests.daemon_helpers import wait_for
from tests.intercom_rig import wait_until
from tests.mqtt_console import BASE, console, online, running_site

IC, DOOR = "ped-intercom", "ped-door"


def intercom(**over: Any) -> dict[str, Any]:
    base = {
        "id": IC,
        "vendor": "2n",
        "url": "http://127.0.0.1:1",
        "username": "admin",
        "password": "sim-secret",
        "door": DOOR,
        "timeout_s": 0.5,
        "answer_s": 30.0,
        "butler": "gina",
    }
    return {"intercoms": [base | over]}


async def kinds(queue: asyncio.Queue[Entry], wanted: set[str]) -> dict[str, Entry]:
    """The next entry of each kind in ``wanted``, whatever order they commit in."""
    found: dict[str, Entry] = {}
    async with asyncio.timeout(5):
        while set(found) != wanted:
            entry = await queue.get()
            if entry.kind in wanted:
                found.setdefault(entry.kind, entry)
    return found


async def message(client: aiomqtt.Client, topic: str, timeout: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        async for m in client.messages:
            if str(m.topic) == topic:
                assert isinstance(m.payload, bytes)
                doc: dict[str, Any] = json.loads(m.payload)
                return doc
    raise AssertionError("unreachable")


async def test_call_reaches_operators_and_a_remote_open_switches_the_relay(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker, site_overrides=intercom()) as site,
        console(secure_broker, "gina", subscribe=(f"{BASE}/event/intercom_call",)) as gina,
    ):
        await online(site.daemon, IC)
        events = site.daemon.journal.subscribe()
        sim = site.compound.intercom
        sim.press_button()
        call = await message(gina.client, f"{BASE}/event/intercom_call")
        assert call["source"] == IC
        assert {k: call["body"][k] for k in ("state", "target")} == {
            "state": "ringing",
            "target": DOOR,
        }
        reply = await gina.request("intercom/open", {"target": IC})
        assert reply["status"] == "ok", reply
        assert reply["result"] == {"intercom": IC, "opened": DOOR}
        assert sim.opens == [1]  # the relay switched before the reply
        audit = await wait_for(events, "operator_command")
        assert (audit.source, audit.body["command"], audit.body["outcome"]) == (
            "gina",
            "intercom/open",
            "ok",
        )


async def test_a_viewer_may_not_open(tmp_path: Path, secure_broker: SecureBroker) -> None:
    async with (
        running_site(tmp_path, secure_broker, site_overrides=intercom()) as site,
        console(secure_broker, "victor") as victor,
    ):
        await online(site.daemon, IC)
        reply = await victor.request("intercom/open", {"target": IC})
        assert (reply["status"], reply["code"]) == ("error", "forbidden")
        assert site.compound.intercom.opens == []


async def test_refused_and_unconfirmed_opens_are_stable_errors_and_journaled(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker, site_overrides=intercom()) as site,
        console(secure_broker, "gina") as gina,
    ):
        await online(site.daemon, IC)
        events = site.daemon.journal.subscribe()
        sim = site.compound.intercom
        sim.faults.refuse_open = True
        refused = await gina.request("intercom/open", {"target": IC})
        assert (refused["status"], refused["code"]) == ("error", "device_refused")
        failed = await wait_for(events, "intercom_open_failed")
        assert (failed.body["code"], failed.body["target"]) == ("device_refused", DOOR)
        audit = await wait_for(events, "operator_command")
        assert audit.body["outcome"] == "error" and "device_refused" in audit.body["error"]
        sim.faults.refuse_open, sim.faults.hang_open = False, True
        unconfirmed = await gina.request("intercom/open", {"target": IC})
        assert (unconfirmed["status"], unconfirmed["code"]) == ("error", "device_timeout")
        assert sim.opens == []


async def test_unanswered_call_is_missed_and_the_butler_on_duty_is_told(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker, site_overrides=intercom(answer_s=0.5)) as site,
        console(secure_broker, "gina", subscribe=(f"{BASE}/butler/#",)) as gina,
    ):
        await online(site.daemon, IC)
        events = site.daemon.journal.subscribe()
        site.compound.intercom.press_button()
        ringing = await wait_for(events, "intercom_call")
        notice = await message(gina.client, f"{BASE}/butler/gina/missed_call")
        assert notice["body"]["state"] == "missed"
        assert notice["body"]["call_id"] == ringing.body["call_id"]
        assert notice["body"]["butler_id"] == "gina"


async def test_answer_with_a_visitor_pass_and_the_code_works_at_the_intercom(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker, site_overrides=intercom()) as site,
        console(secure_broker, "gina") as gina,
    ):
        await online(site.daemon, IC)
        await site.daemon.site.call(
            SiteService.upsert_person, "res-9", name="Mr Wang", actor=SYSTEM
        )
        events = site.daemon.journal.subscribe()
        sim = site.compound.intercom
        sim.press_button()
        ringing = await wait_for(events, "intercom_call")
        until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        reply = await gina.request(
            "intercom/answer",
            {
                "target": IC,
                "open": True,
                "visitor_name": "Courier Liu",
                "visitor_host": "res-9",
                "visitor_until": until,
            },
        )
        assert reply["status"] == "ok", reply
        result = reply["result"]
        assert result["call"] == ringing.body["call_id"] and result["opened"] == DOOR
        code = result["visitor"]["code"]
        assert sim.opens == [1]
        seen = await kinds(events, {"intercom_call", "site_changed"})  # in either order
        answered, audit = seen["intercom_call"], seen["site_changed"]  # audit: the pass
        assert (answered.body["state"], answered.body["answered_by"]) == ("answered", "gina")
        assert (audit.body["actor"], audit.body["interface"]) == ("gina", "mqtt")
        assert code not in json.dumps(audit.body)
        sim.code(code)  # later, the visitor types the code at the intercom's keypad
        decided = await wait_for(events, "access_decided")
        assert (decided.source, decided.body["granted"], decided.body["target"]) == (
            IC,
            True,
            DOOR,
        )
        assert decided.body["credential"] == "keypad"  # the digits are not journaled
        await wait_until(lambda: sim.opens == [1, 1])


async def test_card_at_the_intercom_is_decided_and_opens_through_the_same_path(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with running_site(tmp_path, secure_broker, site_overrides=intercom()) as site:
        await online(site.daemon, IC)
        await site.daemon.site.call(
            SiteService.add_card, "res-1", None, 0xC0FFEE, (DOOR,), fmt="intercom", actor=SYSTEM
        )
        events = site.daemon.journal.subscribe()
        sim = site.compound.intercom
        sim.card(0xBADBAD)
        denied = await wait_for(events, "access_decided")
        assert (denied.body["granted"], denied.body["reason"]) == (False, "unknown_credential")
        sim.card(0xC0FFEE)
        granted = await wait_for(events, "access_decided")
        assert (granted.source, granted.body["granted"], granted.body["person_id"]) == (
            IC,
            True,
            "res-1",
        )
        await wait_until(lambda: sim.opens == [1])


async def test_a_failed_open_while_answering_revokes_the_pass_it_issued(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker, site_overrides=intercom()) as site,
        console(secure_broker, "gina") as gina,
    ):
        await online(site.daemon, IC)
        await site.daemon.site.call(
            SiteService.upsert_person, "res-9", name="Mr Wang", actor=SYSTEM
        )
        site.compound.intercom.faults.refuse_open = True
        visitor = {
            "visitor_name": "Courier Liu",
            "visitor_host": "res-9",
            "visitor_until": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        }
        partial = await gina.request("intercom/answer", {"target": IC, "visitor_name": "X"})
        assert (partial["status"], partial["code"]) == ("error", "bad_request")
        reply = await gina.request("intercom/answer", {"target": IC, "open": True, **visitor})
        assert (reply["status"], reply["code"]) == ("error", "device_refused")
        path = site.compound.config.store.path
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT status FROM credentials WHERE kind = 'visitor'").fetchall()
    conn.close()
    assert rows == [("revoked",)]


async def test_a_call_watched_by_a_camera_carries_its_evidence_frame(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(
            tmp_path, secure_broker, site_overrides=intercom(camera="gate-cam"), cameras=1
        ) as site,
        console(secure_broker, "gina", subscribe=(f"{BASE}/event/intercom_call",)) as gina,
    ):
        await online(site.daemon, IC)
        await online(site.daemon, "gate-cam")
        events = site.daemon.journal.subscribe()
        site.compound.intercom.press_button()
        call = await message(gina.client, f"{BASE}/event/intercom_call")
        frame_id = call["body"]["evidence_frame"]
        assert "-gate-cam-" in frame_id
        captured = await wait_for(events, "evidence_captured", timeout=10)
        assert captured.body["evidence_id"] == frame_id
        assert (captured.body["trigger"], captured.body["ref"]) == ("intercom_call", IC)
        frame = EvidenceStore(tmp_path / "evidence", 10**9, 10**7).get(frame_id)
        assert frame is not None and frame[:2] == b"\xff\xd8"  # a JPEG, kept on site
