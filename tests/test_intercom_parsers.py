"""Property tests of the intercom wire parsers: the sans-I/O multipart parser and the
vendor decoders never raise, never hold more than one bounded part, and find every part
however the stream is cut into chunks."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from drivers.intercom import dahua, hikvision, twon
from drivers.intercom.http import StreamLost
from drivers.intercom.multipart import MultipartParser, Part, Skipped, boundary_of
from drivers.intercom.observations import Call, Card, Door, Input, Observation, Unknown
from drivers.sim.intercom_2n import Sim2N
from drivers.sim.intercom_base import SimEvent
from drivers.sim.intercom_dahua import SimDahua
from drivers.sim.intercom_hikvision import SimHikvision

BOUNDARIES = st.text(st.sampled_from("abcXYZ0189_-'()+,./:=?"), min_size=1, max_size=40)
BODIES = st.binary(max_size=300).filter(lambda b: b"\n--" not in b and b"\r\n" not in b[-2:])
MAX_PART = 200


def encode(boundary: str, bodies: list[bytes], with_length: bool) -> bytes:
    out = b"preamble\r\n"
    for body in bodies:
        head = f"--{boundary}\r\nContent-Type: text/plain"
        if with_length:
            head += f"\r\nContent-Length: {len(body)}"
        out += head.encode() + b"\r\n\r\n" + body + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_all(parser: MultipartParser, chunks: list[bytes]) -> list[Part | Skipped]:
    out: list[Part | Skipped] = []
    for chunk in chunks:
        out += parser.feed(chunk)
        assert parser.buffered <= MAX_PART + parser.max_header + 64
    return out


@given(BOUNDARIES, st.lists(BODIES, max_size=8), st.lists(st.integers(0, 10_000)), st.booleans())
def test_every_part_comes_out_whole_however_the_stream_is_cut(
    boundary: str, bodies: list[bytes], cuts: list[int], with_length: bool
) -> None:
    bodies = [b for b in bodies if boundary.encode() not in b]
    data = encode(boundary, bodies, with_length)
    parts = feed_all(MultipartParser(boundary, MAX_PART), chunked(data, cuts))
    expected = [Part({}, b) if len(b) <= MAX_PART else Skipped("too_large", 0) for b in bodies]
    assert [type(p) for p in parts] == [type(e) for e in expected]
    assert [p.body for p in parts if isinstance(p, Part)] == [
        b for b in bodies if len(b) <= MAX_PART
    ]


@given(BOUNDARIES, st.lists(st.integers(1, 5000), max_size=5), st.lists(st.integers(0, 99_999)))
def test_oversize_parts_are_skipped_and_the_next_part_still_arrives(
    boundary: str, sizes: list[int], cuts: list[int]
) -> None:
    bodies = [b"z" * n for n in sizes] + [b"after"]
    data = encode(boundary, bodies, with_length=False)
    parts = feed_all(MultipartParser(boundary, MAX_PART), chunked(data, cuts))
    assert isinstance(parts[-1], Part) and parts[-1].body == b"after"
    assert sum(isinstance(p, Skipped) for p in parts) == sum(n > MAX_PART for n in sizes)


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000)))
def test_arbitrary_bytes_never_raise_nor_grow_the_buffer(data: bytes, cuts: list[int]) -> None:
    feed_all(MultipartParser("b", MAX_PART), chunked(data, cuts))


def test_boundary_of_reads_quoted_and_plain_parameters() -> None:
    assert boundary_of('multipart/mixed; boundary="MIME_boundary"') == "MIME_boundary"
    assert boundary_of("multipart/x-mixed-replace;boundary=myboundary") == "myboundary"
    assert boundary_of("multipart/mixed") is None


# --- vendor decoders -----------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.binary(max_size=500))
def test_vendor_decoders_never_raise_on_any_bytes(body: bytes) -> None:
    part = Part({"content-type": "text/plain"}, body)
    for out in (hikvision.decode_part(part), dahua.decode_part(part)):
        assert all(not isinstance(o, Unknown) or o.kind for o in out)


@given(JSONISH)
def test_2n_pull_decoder_never_raises_except_for_a_lost_channel(doc: object) -> None:
    body = json.dumps(doc).encode()
    try:
        twon.decode_pull(body)
    except StreamLost:
        assert not (isinstance(doc, dict) and doc.get("success") is True)


@given(JSONISH)
def test_hikvision_json_alerts_never_raise(doc: object) -> None:
    hikvision.decode_part(Part({}, json.dumps(doc).encode()))


@given(st.integers(0, 2**40), st.sampled_from(["Start", "Pulse"]))
def test_dahua_card_and_call_round_trip(number: int, action: str) -> None:
    data = json.dumps({"CardNo": str(number), "Method": 1})
    assert dahua.decode_part(
        Part({}, f"Code=AccessControl;action=Pulse;index=0;data={data}\r\n".encode())
    ) == [Card(number)]
    assert dahua.decode_part(Part({}, f"Code=Invite;action={action};index=0".encode())) == [
        Call("ringing")
    ]


def test_hikvision_xml_is_parsed_with_defusedxml() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><EventNotificationAlert><eventType>&a;</eventType></EventNotificationAlert>'
    assert hikvision.decode_part(Part({}, bomb)) == [Unknown("alert", malformed=True)]


@given(BOUNDARIES, BODIES.filter(lambda b: len(b) <= MAX_PART), st.lists(st.integers(0, 999)))
def test_a_part_with_a_length_is_handed_over_at_its_last_byte(
    boundary: str, body: bytes, cuts: list[int]
) -> None:
    """Not when the next delimiter arrives: on an idle stream that is the next heartbeat."""
    head = f"--{boundary}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    parts = feed_all(MultipartParser(boundary, MAX_PART), chunked(head + body, cuts))
    assert parts == [Part({"content-length": str(len(body))}, body)]


# --- door and input events, in each vendor's wire format (the simulators' encoders) --------


def through_the_wire(vendor: str, event: SimEvent) -> list[Observation]:
    """``event`` encoded by the simulated device of ``vendor`` and decoded by the driver."""
    if vendor == "2n":
        reply = {"success": True, "result": {"events": [Sim2N()._encode(event)]}}
        return twon.decode_pull(json.dumps(reply).encode())
    sim = SimHikvision() if vendor == "hikvision" else SimDahua()
    boundary = "MIME_boundary" if vendor == "hikvision" else "myboundary"
    parts = MultipartParser(boundary, 65536).feed(sim._encode(event) + f"--{boundary}".encode())
    decode = hikvision.decode_part if vendor == "hikvision" else dahua.decode_part
    return [o for p in parts if isinstance(p, Part) for o in decode(p)]


@given(st.sampled_from(["2n", "hikvision", "dahua"]), st.integers(1, 4), st.booleans())
def test_door_open_and_closed_round_trip_every_vendor(
    vendor: str, relay: int, is_open: bool
) -> None:
    door = SimEvent("door", {"relay": relay, "open": is_open})
    assert through_the_wire(vendor, door) == [Door(is_open)]


@given(st.sampled_from(["2n", "dahua"]), st.integers(1, 999), st.booleans())
def test_inputs_round_trip_2n_and_dahua(vendor: str, number: int, active: bool) -> None:
    sent = SimEvent("input", {"input": number, "active": active})
    assert through_the_wire(vendor, sent) == [Input(f"input{number}", active)]


@given(JSONISH, JSONISH)
def test_2n_door_and_input_events_decode_or_are_malformed(state: object, port: object) -> None:
    door = twon.decode_event({"event": "DoorStateChanged", "params": {"state": state}})
    assert door in (Door(True), Door(False), Unknown("DoorStateChanged", malformed=True))
    assert (door == Door(True)) == (state == "opened") and (door == Door(False)) == (
        state == "closed"
    )
    changed = twon.decode_event({"event": "InputChanged", "params": {"port": port, "state": True}})
    if isinstance(port, str) and port:
        assert changed == Input(port[:32], True)
    else:
        assert changed == Unknown("InputChanged", malformed=True)


@given(st.integers(0, 30), JSONISH)
def test_hikvision_door_sub_events_are_the_contact_not_the_lock(sub: int, door_no: object) -> None:
    ace = {"majorEventType": 5, "subEventType": sub, "doorNo": door_no}
    alert = {"eventType": "AccessControllerEvent", "AccessControllerEvent": ace}
    out = hikvision.decode_part(Part({}, json.dumps(alert).encode()))
    expected = {23: [Door(True)], 24: [Door(False)], 21: [], 22: []}
    if sub in expected:
        assert out == expected[sub]
    else:
        assert out != [] and not any(isinstance(o, Door) for o in out)


@given(
    st.text(max_size=12),
    st.text("0123456789 x-", max_size=6),
    st.sampled_from(["Start", "Stop", "Pulse"]),
)
def test_dahua_door_status_and_alarm_inputs_never_raise(
    status: str, index: str, action: str
) -> None:
    data = json.dumps({"Status": status})
    door = dahua.decode_part(Part({}, f"Code=DoorStatus;action=Pulse;index=0;data={data}".encode()))
    assert door == (
        [Door(status == "Open")] if status in ("Open", "Close") else [Unknown("DoorStatus", True)]
    )
    text = f"Code=AlarmLocal;action={action};index={index}"
    alarm = dahua.decode_part(Part({}, text.encode("utf-8", "replace")))
    assert len(alarm) == 1 and isinstance(alarm[0], Input | Unknown)
