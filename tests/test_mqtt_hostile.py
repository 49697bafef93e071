"""Issue 11: the operator channel under attack, against a real mosquitto run from the shipped
docs/mosquitto.conf and docs/mosquitto.acl, and a daemon running the simulated compound."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from structlog.testing import capture_logs

from edgectl.daemon import Daemon
from edgectl.domain import AccessDecided, Arrival, OperatorCommand
from edgectl.simulation import simulated_compound
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.journal import Journal
from tests.conftest import (
    DOCS,
    Broker,
    SecureBroker,
    free_port,
    secure_broker_in,
    wait_port,
    write_broker_conf,
)
from tests.mqtt_console import BASE, GATE, READER, console, now_iso, running_site
from tests.tcp_proxy import Proxy
from tests.test_mqtt_commands import journaled, operator_commands

MAX_PACKET = 65536


def props(**values: Any) -> Properties:
    p = Properties(PacketTypes.PUBLISH)
    for key, value in values.items():
        setattr(p, key, value)
    return p


async def collect(client: aiomqtt.Client, seconds: float) -> list[aiomqtt.Message]:
    out: list[aiomqtt.Message] = []
    with_timeout = asyncio.timeout(seconds)
    try:
        async with with_timeout:
            async for message in client.messages:
                out.append(message)
    except TimeoutError:
        pass
    return out


# --- 1. oversized fields in, oversized packets out, and a link that always comes back -------


async def test_oversized_request_properties_are_refused_and_the_daemon_stays_on(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "victor") as victor,
        console(secure_broker, "alice") as alice,
    ):
        assert site.mqtt._client is not None
        assert site.mqtt._client.max_packet == MAX_PACKET  # read from mosquitto's CONNACK
        session = site.mqtt._client
        for _ in range(3):
            reply = await victor.request("query/devices", correlation=b"x" * 40_000)
            assert (reply["code"], reply["_correlation"]) == ("bad_request", None)
            assert "correlation data: 40000 bytes" in reply["message"]
        reply = await victor.request(
            "query/devices", response_topic=victor.reply_topic + "/" + "r" * 300
        )
        assert reply["code"] == "bad_response_topic"
        many = props(ResponseTopic=victor.reply_topic, CorrelationData=b"c1")
        many.UserProperty = [(f"k{i}", "v") for i in range(20)]
        body = json.dumps({"issued_at": now_iso()}).encode()
        await victor.client.publish(
            f"{BASE}/cmd/victor/query/devices", body, qos=1, properties=many
        )
        assert (await victor.reply())["code"] == "bad_request"
        long_value = props(ResponseTopic=victor.reply_topic, CorrelationData=b"c2")
        long_value.UserProperty = [("operator", "v" * 5000)]
        await victor.client.publish(
            f"{BASE}/cmd/victor/query/devices", body, qos=1, properties=long_value
        )
        assert (await victor.reply())["code"] == "bad_request"
        reply = await victor.request("query/devices", {"transaction": "t" * 5000})
        assert reply["code"] == "bad_request" and "transaction" in reply["message"]
        assert "t" * 200 not in str(reply)  # the long id is not echoed back
        # alice is answered at once, on the same session: the daemon never left the broker
        assert (await alice.request("gate/open", {"target": GATE}))["status"] == "ok"
        assert site.mqtt._client is session and site.mqtt.connected.is_set()
        path = site.compound.config.store.path
    rows = await journaled(path, 7)
    assert max(len(json.dumps(r.body)) for r in rows) < 1000  # no 80 KB request or transaction ids


async def test_connection_loop_comes_back_after_a_reset_in_every_state(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    # TLS handshake, CONNECT/CONNACK, SUBSCRIBE, availability and retained state, then
    # idle: the proxy resets each new link (the daemon has two) after the next of these
    # byte counts.
    cut_points = [1, 1, 300, 300, 1200, 1200, 2000, 2600, 3200, 4000]
    proxy = Proxy(secure_broker.tls_port, cut_after=list(cut_points))
    await proxy.start()
    try:
        async with running_site(tmp_path, secure_broker, connected=False, port=proxy.port) as site:
            async with asyncio.timeout(90):
                while proxy.cut_after or not both_up(site):
                    await asyncio.sleep(0.05)
            assert proxy.cuts >= len(cut_points) - 2  # the last two may wait on idle links
            proxy.cut()  # both links, idle
            await asyncio.wait_for(_reconnected(site), 30)
            async with console(secure_broker, "alice") as alice:
                assert (await alice.request("query/devices"))["status"] == "ok"
                # mid-command: the link is reset while alice's gate/open is being carried out
                await alice.send(
                    "gate/open", {"issued_at": now_iso(), "target": GATE}, correlation=b"m1"
                )
                await site.coils_become(["open"])
                proxy.cut()
                await asyncio.wait_for(_reconnected(site), 30)
                assert (await alice.request("gate/close", {"target": GATE}))["status"] == "ok"
                # idle: reset with nothing in flight
                proxy.cut()
                await asyncio.wait_for(_reconnected(site), 30)
                assert (await alice.request("query/devices"))["status"] == "ok"
    finally:
        await proxy.stop()


def both_up(site: Any) -> bool:
    return bool(site.mqtt.connected.is_set() and site.mqtt.bulk_connected.is_set())


async def _reconnected(site: Any) -> None:
    while site.mqtt.connected.is_set():
        await asyncio.sleep(0.02)
    while not both_up(site):
        await asyncio.sleep(0.02)


# --- 2. query/events pages within the broker's packet size ---------------------------------


async def test_query_events_pages_big_entries_within_a_byte_budget(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "alice") as alice,
    ):
        at = datetime.now(UTC)
        futures = [
            site.daemon.router.record(
                OperatorCommand(
                    source="gina", at=at, interface="mqtt", command="workorder/status",
                    params={"note": f"{i:04d}" + "n" * 900}, request="r" * 120,
                )
            )
            for i in range(300)
        ]  # fmt: skip
        await asyncio.gather(*futures)
        seqs: list[int] = []
        before = None
        pages = 0
        while True:
            body: dict[str, Any] = {"kinds": ["operator_command"], "limit": 200}
            if before is not None:
                body["before"] = before
            reply = await alice.request("query/events", body)
            assert reply["status"] == "ok", reply
            assert len(json.dumps(reply, default=str)) < MAX_PACKET
            pages += 1
            seqs = [e["seq"] for e in reply["result"]["events"]] + seqs
            before = reply["result"]["next_before"]
            if before is None:
                break
        assert pages >= 5 and len(seqs) == len(set(seqs)) >= 300
        assert seqs == sorted(seqs)
        assert site.mqtt.connected.is_set()


# --- 3. a flood from one user ----------------------------------------------------------------


async def test_viewer_flood_is_shed_and_the_operator_is_answered_first(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    conf = (DOCS / "mosquitto.conf").read_text()
    assert "max_queued_messages 1000" in conf and "max_inflight_messages 20" in conf
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "victor") as victor,
        console(secure_broker, "alice") as alice,
    ):
        body = json.dumps({"issued_at": now_iso(), "target": GATE})
        flooder = await asyncio.create_subprocess_exec(  # a stock client, as fast as it can
            "nice", "-n", "19", shutil.which("mosquitto_pub") or "mosquitto_pub",
            "-p", str(secure_broker.port), "-u", "victor", "-P", secure_broker.users["victor"],
            "-V", "5", "-q", "1", "-t", f"{BASE}/cmd/victor/gate/open", "-l",
            stdin=asyncio.subprocess.PIPE,
        )  # fmt: skip
        flooding = asyncio.create_task(flooder.communicate(("\n".join([body] * 20_000)).encode()))
        try:
            await asyncio.sleep(0.2)
            latencies = []
            for _ in range(10):
                t0 = time.perf_counter()
                reply = await alice.request("gate/open", {"target": GATE})
                latencies.append(time.perf_counter() - t0)
                assert reply["status"] == "ok", reply
                await asyncio.sleep(0.05)
            assert not flooding.done()  # alice was answered while the flood went on
            await flooding
        finally:  # a failed check leaves no flooder behind
            if flooder.returncode is None:
                flooder.kill()
                await flooder.wait()
        assert flooder.returncode == 0
        assert max(latencies) < 2.0, latencies
        answers = await collect(victor.client, 1.0)
        codes = [json.loads(m.payload)["code"] for m in answers if isinstance(m.payload, bytes)]
        assert 1 <= codes.count("rate_limited") <= 3 and len(codes) < 100, codes[:20]
        assert site.mqtt.intake.offered < 20_000  # the bulk connection is paced
        path = site.compound.config.store.path
    rows = operator_commands(path)
    assert sum(r.source == "alice" for r in rows) == 10
    assert sum(r.source == "victor" for r in rows) < 100  # not a journal row each


# --- 4 and 5. a restart after a flood; the replay window is time, not count ---------------


async def _seed(path: str, n: int, at: datetime, source: str = "alice") -> None:
    journal = Journal(path)
    try:
        futures = [
            journal.append(
                OperatorCommand(
                    source=source, at=at + timedelta(microseconds=i), interface="mqtt",
                    command="query/devices", request=f"correlation data {i:08x}", outcome="ok",
                )
            )
            for i in range(n)
        ]  # fmt: skip
        await asyncio.gather(*futures)
    finally:
        await journal.close()


async def test_restart_after_a_flood_decides_cards_at_once_and_keeps_the_window(
    tmp_path: Path, secure_broker: SecureBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_site(tmp_path, secure_broker, command_window_s=900) as site:
        async with console(secure_broker, "alice") as alice:
            first = await alice.request(
                "query/devices", {"transaction": "t-keep"}, correlation=b"c-first"
            )
            assert first["status"] == "ok"
            again = await alice.request(
                "query/devices", {"transaction": "t-keep"}, correlation=b"c-new"
            )  # a console that regenerated its correlation data on retry
            assert again["code"] == "replay"
        path = site.compound.config.store.path
    await _seed(path, 10_500, datetime.now(UTC))
    starts: list[float] = []
    start = Daemon.start

    async def timed_start(self: Daemon) -> None:
        t0 = time.perf_counter()
        await start(self)
        starts.append(time.perf_counter() - t0)

    monkeypatch.setattr(Daemon, "start", timed_start)
    async with running_site(tmp_path, secure_broker, connected=False, command_window_s=900) as site:
        assert starts[0] < 1.0  # the 10,500 journaled ids are not read before the drivers
        started = time.perf_counter()
        events = site.daemon.journal.subscribe()
        await site.daemon.site.call(SiteService.add_card, "p1", 1, 1, actor=SYSTEM)
        for _ in range(200):
            if site.daemon.devices.views[READER].online:
                break
            await asyncio.sleep(0.01)
        site.compound.reader.present("h10301", 1, 1)
        while (entry := await asyncio.wait_for(events.get(), 5)).kind != "access_decided":
            pass
        assert time.perf_counter() - started < 2.0 and entry.body["granted"] is True
        await asyncio.wait_for(site.mqtt.connected.wait(), 20)
        assert len(site.mqtt.window) >= 10_500
        async with console(secure_broker, "alice") as alice:
            reply = await alice.request("query/devices", {"transaction": "t-keep"})
            assert reply["code"] == "replay", reply


# --- 6, 7 (live stream part), 8, 9: what each user reads ------------------------------------


async def test_each_user_reads_only_their_part(tmp_path: Path, secure_broker: SecureBroker) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(
            secure_broker, "victor", subscribe=(f"{BASE}/event/#", f"{BASE}/butler/#")
        ) as victor,
        console(secure_broker, "gina", subscribe=(f"{BASE}/butler/gina/arrival",)) as gina,
        console(secure_broker, "alice") as alice,
    ):
        at = datetime.now(UTC)
        router = site.daemon.router
        await router.record(
            Arrival(source="main-gate", at=at, butler_id="gina", person_id="p-42",
                    person_name="Mr Chen", gate=GATE)
        )  # fmt: skip
        await router.record(
            AccessDecided(source=READER, at=at, granted=True, reason="granted",
                          credential="h10301:12:34567", person_id="p-42", target=GATE,
                          direction="in")
        )  # fmt: skip
        arrival = json.loads((await anext(aiter(gina.client.messages))).payload)  # type: ignore[arg-type]
        assert arrival["body"]["person_name"] == "Mr Chen"  # the butler greets by name
        seen = await collect(victor.client, 1.0)
        topics = [str(m.topic) for m in seen]
        assert f"{BASE}/event/arrival" not in topics and not any("butler" in t for t in topics)
        decided = next(
            json.loads(m.payload) for m in seen if str(m.topic).endswith("access_decided")
        )  # type: ignore[arg-type]
        text = json.dumps(decided)
        assert "34567" not in text and "p-42" not in text and "Chen" not in text
        assert decided["body"]["credential"].startswith("~")  # a stable keyed pseudonym
        # the role table decides: query/events shows a viewer pseudonyms, an operator numbers
        q = {"kinds": ["access_decided"], "limit": 5}
        as_viewer = (await victor.request("query/events", q))["result"]["events"][-1]
        as_operator = (await alice.request("query/events", q))["result"]["events"][-1]
        assert as_viewer["body"]["credential"] == decided["body"]["credential"]
        assert as_operator["body"]["credential"] == "h10301:12:34567"


# --- 10, 11: identity -------------------------------------------------------------------------


async def test_a_user_name_with_a_slash_cannot_act_as_another_operator(tmp_path: Path) -> None:
    users = {u: f"{u}-pw" for u in ("edgectl", "alice", "gina", "victor", "mallory",
                                     "homeassistant", "alice/gate", "stranger")}  # fmt: skip
    broker = secure_broker_in(tmp_path / "broker", users)
    broker.start()
    wait_port(broker.tls_port)
    try:
        async with (
            running_site(tmp_path, broker) as site,
            console(broker, "alice") as alice,
        ):
            forged = {"issued_at": now_iso(), "transaction": "f1", "target": GATE}
            async with console(broker, "alice/gate", v5=False) as slash:
                await slash.send("open", forged, operator="alice/gate")  # .../cmd/alice/gate/open
                await slash.send("gate/open", forged, operator="alice/gate")  # too many levels
            async with console(broker, "homeassistant") as ha:
                await ha.send("gate/open", forged | {"transaction": "h1"})
            async with console(broker, "stranger") as stranger:
                reply = await stranger.request("query/devices")
                assert reply["code"] == "forbidden" and "not an operator" in reply["message"]
            mismatch = props(ResponseTopic=alice.reply_topic, CorrelationData=b"u1")
            mismatch.UserProperty = [("operator", "gina")]
            await alice.client.publish(
                f"{BASE}/cmd/alice/gate/open",
                json.dumps(forged | {"transaction": "u1"}),
                qos=1,
                properties=mismatch,
            )
            assert (await alice.reply())["code"] == "identity_mismatch"
            reply = await alice.request("query/events", {"kinds": ["operator_command"]})
            sources = {e["source"] for e in reply["result"]["events"]}
            assert sources == {"stranger", "alice"}  # nothing from "alice/gate" or HA
            assert site.coils == []
    finally:
        broker.stop()


# --- 12: payloads that used to answer "internal" -------------------------------------------


async def test_hostile_payloads_get_stable_codes(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
    ):
        deep = (
            b'{"issued_at": "' + now_iso().encode() + b'", "x": ' + b"[" * 2500 + b"]" * 2500 + b"}"
        )
        assert (await gina.request("query/devices", deep))["code"] == "bad_json"
        name = json.dumps({"name": "x"}).replace("x", "\\ud800")[1:-1]  # "name": "\ud800"
        until = '"until": "2099-01-01T00:00:00+00:00"'
        surrogate = (
            f'{{"issued_at": "{now_iso()}", {name}, "host": "p-1", "gates": ["{GATE}"], {until}}}'
        ).encode()
        assert (await gina.request("visitor/issue", surrogate))["code"] == "bad_json"
        far = {"name": "V", "host": "p-1", "gates": [GATE], "until": "9999-12-31T23:59:59-23:59"}
        reply = await gina.request("visitor/issue", far)
        assert reply["code"] == "bad_request" and "until" in reply["message"]
        huge = {"issued_at": "9999-12-31T23:59:59-23:59"}
        assert (await gina.request("query/devices", huge))["code"] == "bad_request"
        path = site.compound.config.store.path
    rows = await journaled(path, 4)
    assert all("internal" not in (r.body["error"] or "") for r in rows)


# --- 7 (and 6 for keypad lines): no PIN or code digits anywhere ----------------------------


async def test_a_damaged_keypad_line_is_reason_and_length_only(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    digits = "19412467"
    damaged = [
        f"K{digits}#*00\r\n".encode(),  # checksum wrong
        _with_valid_checksum(f"K{digits}x#"),  # framing wrong
    ]
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "victor", subscribe=(f"{BASE}/event/bad_read",)) as victor,
        console(secure_broker, "alice") as alice,
    ):
        events = site.daemon.journal.subscribe()
        with capture_logs() as logs:
            for line in damaged:
                site.compound.reader.write(line)
                while (entry := await asyncio.wait_for(events.get(), 5)).kind != "bad_read":
                    pass
                assert set(entry.body) == {"reason", "length", "line"}  # line: no key (issue 13)
                assert entry.body["length"] == len(line.rstrip(b"\r\n"))
        live = await collect(victor.client, 0.5)
        queried = await alice.request("query/events", {"kinds": ["bad_read"]})
        path = site.compound.config.store.path
    assert len(live) == 2 and len(queried["result"]["events"]) == 2
    seen = [
        json.dumps(logs, default=str),
        *(m.payload.decode() for m in live),
        json.dumps(queried, default=str),
    ]  # type: ignore[union-attr]
    conn = sqlite3.connect(path)
    seen += [row[0] for row in conn.execute("SELECT body FROM journal")]
    conn.close()
    assert not [text for text in seen if digits in text]


def _with_valid_checksum(payload: str) -> bytes:
    from drivers.wiegand.line import checksum

    data = payload.encode()
    return data + b"*%02X\r\n" % checksum(data)


# --- 6: a visitor code goes to the guard who issued it, and nowhere else -------------------


async def test_a_visitor_code_is_in_no_event_log_journal_or_other_reply(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
        console(secure_broker, "alice") as alice,
        console(secure_broker, "victor", subscribe=(f"{BASE}/event/#",)) as victor,
    ):
        await site.daemon.site.call(
            SiteService.upsert_person, "res-12-3", name="Mr Chen", actor=SYSTEM
        )
        events = site.daemon.journal.subscribe()
        with capture_logs() as logs:
            body = {"name": "Wang Wei", "host": "res-12-3", "until": until, "gates": [GATE]}
            issued = await gina.request("visitor/issue", body)
            code = issued["result"]["code"]  # the one place it is sent: the issuer's reply
            site.compound.reader.keys(code)
            while (entry := await asyncio.wait_for(events.get(), 5)).kind != "access_decided":
                pass
            assert entry.body["granted"] is True, entry.body
            revoked = await gina.request("visitor/revoke", {"code": code})
            assert revoked["status"] == "ok"
        live = await collect(victor.client, 0.5)
        staff_view = await alice.request("query/events", {"limit": 100})
        path = site.compound.config.store.path
    assert code not in entry.body["person_id"]
    seen = [
        json.dumps(logs, default=str),
        json.dumps(staff_view, default=str),
        json.dumps(revoked, default=str),
    ]
    seen += [m.payload.decode() for m in live]  # type: ignore[union-attr]
    conn = sqlite3.connect(path)
    seen += [row[0] for row in conn.execute("SELECT body FROM journal")]
    conn.close()
    assert not [text for text in seen if code in text]


async def test_the_brokers_packet_size_from_connack_bounds_every_publish(tmp_path: Path) -> None:
    port = free_port()
    conf = write_broker_conf(tmp_path / "small.conf", port, "max_packet_size 4096\n")
    broker = Broker("127.0.0.1", port, conf)
    broker.start()
    overrides = {
        "site": {"id": "riverside"},
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port},
        "operators": [{"id": "alice", "role": "operator"}],
    }
    try:
        async with simulated_compound(tmp_path / "site", overrides) as compound:
            daemon = Daemon(compound.config)
            await daemon.start()
            try:
                assert daemon.mqtt is not None
                await asyncio.wait_for(daemon.mqtt.connected.wait(), 10)
                assert daemon.mqtt._client is not None
                assert daemon.mqtt._client.max_packet == 4096  # what mosquitto announced
                note = {"note": "n" * 6000}  # one event bigger than a packet
                await daemon.router.record(
                    OperatorCommand(source="alice", at=datetime.now(UTC), interface="mqtt",
                                    command="workorder/status", params=note)
                )  # fmt: skip
                async with aiomqtt.Client(
                    "127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5
                ) as client:
                    await client.subscribe(f"{BASE}/reply/alice/#", qos=1)
                    p = props(ResponseTopic=f"{BASE}/reply/alice", CorrelationData=b"q")
                    body = json.dumps({"issued_at": now_iso(), "kinds": ["operator_command"]})
                    await client.publish(f"{BASE}/cmd/alice/query/events", body, 1, properties=p)
                    message = await asyncio.wait_for(anext(aiter(client.messages)), 5)
                assert isinstance(message.payload, bytes) and len(message.payload) < 4096
                page = json.loads(message.payload)["result"]["events"]
                assert page[-1]["truncated"] is True  # the entry is in the journal, whole
                assert daemon.mqtt.connected.is_set()
            finally:
                await daemon.stop()
    finally:
        broker.stop()
