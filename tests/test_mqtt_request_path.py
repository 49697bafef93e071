"""Issue 11: a property test of the whole MQTT request path. From the PUBLISH packet as paho
hands it to the daemon (topic, payload, and properties as decoded off the wire) through the
topic parse, the intake (rate limit, priority queue, workers) and the command pipeline to the
reply the daemon publishes on a real mosquitto: every field is bounded, and no request is
answered with ``internal``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgectl.commands.table import COMMANDS
from edgectl.mqtt.interface import Incoming
from edgectl.mqtt.outbound import packet_size
from edgectl.mqtt.payloads import MAX_CORRELATION, properties
from edgectl.store.journal import read_entries
from tests.conftest import SecureBroker
from tests.mqtt_console import BASE, GATE, Site, running_site

T = TypeVar("T")
HIGH_LIMITS = {"rate_per_s": 10000.0, "burst": 100000}


class Background:
    """The site's daemon on its own event loop in a thread, so hypothesis can drive it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def site(tmp_path: Path, secure_broker: SecureBroker) -> Iterator[tuple[Site, list[Any]]]:
    bg = Background()
    overrides = {"commands": {role: HIGH_LIMITS for role in ("viewer", "operator")}}
    cm = running_site(tmp_path, secure_broker, site_overrides=overrides)
    running = bg.run(cm.__aenter__())
    sent: list[Any] = []
    publish = running.mqtt._publish

    async def recording(client: Any, topic: str, payload: bytes, **kw: Any) -> None:
        sent.append((topic, payload, kw.get("props"), client.max_packet))
        await publish(client, topic, payload, **kw)

    running.mqtt._publish = recording  # type: ignore[method-assign]
    running.background = bg  # type: ignore[attr-defined]
    yield running, sent
    bg.run(cm.__aexit__(None, None, None))
    bg.close()


def iso(offset_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat()


sizes = st.sampled_from([0, 1, 16, 64, 65, 300, 40_000])
correlations = st.none() | sizes.map(lambda n: b"c" * n) | st.binary(max_size=80)
nasty_text = st.sampled_from(["\ud800", "x" * 5000, "\0", "", "a/b", "+", "#"]) | st.text(
    max_size=20
)
leaves = st.none() | st.booleans() | st.integers() | st.floats() | nasty_text
values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=10,
)  # fmt: skip
times = st.sampled_from(
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-13-01T00:00:00+00:00"]
) | st.floats(-100, 100).map(iso)
field_names = st.sampled_from(
    ["target", "seconds", "gates", "until", "name", "host", "number", "facility", "limit",
     "kinds", "code", "before", "person_id", "order_id", "status", "note", "x"]
)  # fmt: skip
documents = st.fixed_dictionaries(
    {"issued_at": times},
    optional={"transaction": values, "target": st.just(GATE) | nasty_text},
).flatmap(
    lambda d: st.dictionaries(field_names, values | times, max_size=4).map(lambda f: {**f, **d})
)


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode("utf-8", "surrogatepass")


deep = st.sampled_from([3000, 1500, 999, 17, 16, 1]).map(
    lambda d: b'{"issued_at": "x", "a": ' + b"[" * d + b"]" * d + b"}"
)
payloads = st.one_of(deep, documents.map(encode), st.binary(max_size=200))
commands = st.sampled_from(sorted(COMMANDS)) | st.sampled_from(["gate/fly", "x/y"])
operators = st.sampled_from(["alice", "victor", "nobody"])


async def taken(
    running: Site, topic: str, payload: bytes, props: Properties, sent: list[Any]
) -> None:
    """Hand a PUBLISH to the daemon as paho's callback does, and wait for its reply."""
    mqtt = running.mqtt
    operator = topic.split("/")[3]
    mqtt._take(topic, payload, props, staff=operator in mqtt._staff)
    async with asyncio.timeout(10):
        while not any(s[0].startswith(f"{BASE}/reply/") for s in sent):
            await asyncio.sleep(0.002)


def wire_ok(text: str) -> bool:
    """UTF-8 strings in MQTT packets carry no NUL and no lone surrogate."""
    return "\0" not in text and "\ud800" not in text


@st.composite
def packet_properties(draw: st.DrawFn, operator: str) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    own = f"{BASE}/reply/{operator}"
    topic = draw(st.none() | st.just(own) | nasty_text.map(lambda t: f"{own}/{t}") | nasty_text)
    if topic and wire_ok(topic):  # else mosquitto refuses the packet before edgectl
        props.ResponseTopic = topic
    correlation = draw(correlations)
    if correlation:
        props.CorrelationData = correlation
    users = draw(st.lists(st.tuples(nasty_text, nasty_text), max_size=10))
    users = [(k, v) for k, v in users if k and wire_ok(k + v)]
    if users:
        props.UserProperty = users
    wire = Properties(PacketTypes.PUBLISH)  # as paho decodes it off the wire
    wire.unpack(props.pack())
    return wire


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), command=commands, operator=operators, payload=payloads)
def test_every_request_is_bounded_and_never_internal(
    site: tuple[Site, list[Any]], data: st.DataObject, command: str, operator: str, payload: bytes
) -> None:
    running, sent = site
    props = data.draw(packet_properties(operator))
    del sent[:]
    running.background.run(taken(running, f"{BASE}/cmd/{operator}/{command}", payload, props, sent))  # type: ignore[attr-defined]
    replies = [s for s in sent if s[0].startswith(f"{BASE}/reply/")]
    assert len(replies) == 1, sent
    topic, body, reply_props, limit = replies[0]
    assert topic.startswith(f"{BASE}/reply/{operator}")
    reply = json.loads(body)
    assert reply["status"] in ("ok", "error")
    assert reply.get("code") != "internal", reply
    correlation = getattr(reply_props, "CorrelationData", None)
    assert correlation is None or len(correlation) <= MAX_CORRELATION
    assert packet_size(topic, body, correlation) <= limit
    for topic, body, _, limit in sent:
        assert packet_size(topic, body) <= limit


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=commands, operator=operators, payload=payloads)
def test_every_payload_with_plain_properties_is_answered_without_internal(
    site: tuple[Site, list[Any]], command: str, operator: str, payload: bytes
) -> None:
    running, sent = site
    props = Properties(PacketTypes.PUBLISH)
    props.CorrelationData = payload[:16] or b"-"
    incoming = Incoming(f"{BASE}/cmd/{operator}/{command}", operator, command,
                        properties(props), payload, time.monotonic())  # fmt: skip
    del sent[:]
    running.background.run(running.mqtt._handle(incoming))  # type: ignore[attr-defined]
    (reply,) = [json.loads(s[1]) for s in sent if s[0].startswith(f"{BASE}/reply/")]
    assert reply.get("code") != "internal", reply


def test_journal_rows_from_hostile_requests_stay_small(site: tuple[Site, list[Any]]) -> None:
    running, _ = site
    big = Properties(PacketTypes.PUBLISH)
    big.CorrelationData = b"c" * 40_000
    for payload in (
        b"{" * 5000,
        b'{"issued_at": "' + iso().encode() + b'", "x": "' + b"y" * 9000 + b'"}',
    ):
        incoming = Incoming(f"{BASE}/cmd/alice/query/devices", "alice", "query/devices",
                            properties(big), payload, time.monotonic())  # fmt: skip
        running.background.run(running.mqtt._handle(incoming))  # type: ignore[attr-defined]
    conn = sqlite3.connect(running.compound.config.store.path)
    rows = read_entries(conn, 0, 100, ("operator_command",))
    conn.close()
    assert len(rows) == 2 and all(len(json.dumps(r.body)) < 1000 for r in rows)
