"""Property tests for the request parser, validator, topic parser and request window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edgectl.commands.roles import Role, RoleTable
from edgectl.commands.schema import Refused, decode, validate
from edgectl.commands.table import COMMANDS
from edgectl.config import Operator
from edgectl.mqtt.auth import RequestWindow
from edgectl.mqtt.payloads import envelope
from edgectl.mqtt.topics import Topics

CODES = {"bad_json", "bad_request", "too_large"}
IN_RANGE = st.datetimes(datetime(2000, 1, 2), datetime(2199, 12, 30), timezones=st.just(UTC))
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = scalars | st.lists(scalars, max_size=3) | st.just(["gate-1"]) | st.just({})
documents = st.dictionaries(
    st.sampled_from(["issued_at", "transaction", "target", "seconds", "gates", "until", "name",
                     "host", "number", "facility", "limit", "kinds", "code", "x"]),
    json_values | IN_RANGE.map(datetime.isoformat),
    max_size=8,
)  # fmt: skip


def parse(raw: bytes, command: str) -> dict[str, Any]:
    env = envelope(decode(raw, 4096))
    return validate(env.fields, COMMANDS[command].schema)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_name_the_problem(raw: bytes) -> None:
    try:
        parse(raw, "gate/open")
    except Refused as exc:
        assert exc.code in CODES and exc.message


@given(documents, st.sampled_from(sorted(COMMANDS)))
def test_any_json_object_validates_or_is_refused_cleanly(doc: dict[str, Any], command: str) -> None:
    try:
        out = parse(json.dumps(doc).encode(), command)
    except Refused as exc:
        assert exc.code in CODES and exc.message
        return
    schema = COMMANDS[command].schema
    assert set(out) <= set(schema)
    assert all(name in out for name, f in schema.items() if f.required)
    assert "issued_at" in doc  # nothing passes without issued_at


@given(
    st.text(min_size=1, max_size=64).filter(lambda t: "\0" not in t),
    IN_RANGE,
    st.none() | st.text(min_size=1, max_size=128).filter(lambda t: "\0" not in t),
)
def test_well_formed_gate_request_round_trips(
    target: str, issued: datetime, txn: str | None
) -> None:
    doc: dict[str, Any] = {"issued_at": issued.isoformat(), "target": target}
    if txn is not None:
        doc["transaction"] = txn
    env = envelope(decode(json.dumps(doc).encode(), 4096))
    assert (env.issued_at, env.transaction) == (issued, txn)
    assert validate(env.fields, COMMANDS["gate/open"].schema) == {"target": target}


@given(st.integers(1, 100), st.integers(0, 200))
def test_size_limit_is_exact(limit: int, size: int) -> None:
    raw = b" " * size
    try:
        decode(raw, limit)
    except Refused as exc:
        assert (exc.code == "too_large") == (size > limit)


@given(st.lists(st.text(max_size=6), min_size=0, max_size=6))
def test_command_topics_need_exactly_operator_noun_verb(levels: list[str]) -> None:
    topics = Topics("edgectl/s1")
    flat = "/".join(levels)
    parsed = topics.parse_command("edgectl/s1/cmd/" + flat)
    parts = flat.split("/")
    well_formed = len(parts) == 3 and all(p and not set(p) & set("+#\0") for p in parts)
    assert (parsed is not None) == well_formed
    if parsed is not None:
        assert parsed == (parts[0], f"{parts[1]}/{parts[2]}")


def unroutable(c: str) -> bool:
    """What a broker will not route (MQTT 5 section 1.5.4): publishing there gets the
    daemon disconnected. mosquitto refuses such response topics inbound; others may not."""
    n = ord(c)
    return (
        c in "+#"
        or n < 0x20
        or 0x7F <= n <= 0x9F
        or 0xD800 <= n <= 0xDFFF
        or 0xFDD0 <= n <= 0xFDEF
        or n & 0xFFFE == 0xFFFE
    )


@given(st.text(min_size=1, max_size=20).filter(lambda t: "/" not in t), st.text(max_size=20))
def test_response_topic_stays_under_own_reply_topic(operator: str, suffix: str) -> None:
    topics = Topics("edgectl/s1")
    own = topics.reply(operator)
    ok = topics.allowed_response_topic(operator, own + suffix)
    routable = not any(unroutable(c) for c in own + suffix)
    assert ok == ((suffix == "" or suffix.startswith("/")) and routable)
    assert not topics.allowed_response_topic(operator, topics.state("gate-1"))


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=30), st.integers(1, 30))
def test_window_refuses_each_id_once_within_it(ids: list[str], window_s: int) -> None:
    window = RequestWindow(window_s)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    seen: set[str] = set()
    for i, rid in enumerate(ids):
        seen_before = window.replayed("op", [rid], now + timedelta(milliseconds=i))
        assert (seen_before is not None) == (rid in seen)
        seen.add(rid)
    assert not window.replayed("other-op", ["a"], now)
    assert not window.replayed("op", ["a"], now + timedelta(seconds=3 * window_s))
    assert window.stale(now - timedelta(seconds=window_s + 1), now)
    assert not window.stale(now - timedelta(seconds=window_s), now)


def test_roles_are_ordered_and_unknown_operators_have_none() -> None:
    table = RoleTable((Operator("g", "guard"), Operator("v", "viewer"), Operator("a", "admin")))
    assert table.allows("g", Role.GUARD) and not table.allows("g", Role.OPERATOR)
    assert table.allows("a", Role.OPERATOR) and not table.allows("v", Role.GUARD)
    assert not table.allows("nobody", Role.VIEWER)
