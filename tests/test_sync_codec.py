"""Property tests of the batch encoder/decoder, the ack rule, backoff and outbox batching."""

from __future__ import annotations

import gzip
import json
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.backoff import backoff_delay
from edgectl.domain import EventClass
from edgectl.store import kv
from edgectl.store.db import open_store
from sync.codec import (
    AckError,
    BatchError,
    TooLarge,
    decode_batch,
    encode_batch,
    envelope,
    judge_ack,
    parse_int64,
    parse_time,
)
from sync.outbox import gaps, next_batch

EPOCH = "0123456789abcdef"

json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=10,
)
bodies = st.dictionaries(st.text(max_size=10), json_value, max_size=5)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def batches(draw: st.DrawFn) -> tuple[int, int, list[tuple]]:
    start = draw(st.integers(1, 10**12))
    seqs = sorted(draw(st.sets(st.integers(start, start + 200), max_size=30)))
    to_seq = draw(st.integers(max(seqs, default=start), start + 300))
    rows = [
        (
            s,
            draw(stamps).isoformat(),
            draw(st.text(min_size=1, max_size=20)),
            str(draw(st.sampled_from(list(EventClass)))),
            draw(st.text(max_size=20)),
            json.dumps(draw(bodies)),
            draw(st.integers(1, 5)),
        )
        for s in seqs
    ]
    return start, to_seq, rows


@given(batches(), st.text(min_size=1, max_size=20))
def test_encode_decode_round_trip(b: tuple[int, int, list[tuple]], site: str) -> None:
    start, to_seq, rows = b
    held = gaps(start, to_seq, [r[0] for r in rows])
    got = decode_batch(encode_batch(site, EPOCH, start, to_seq, [envelope(r) for r in rows], held))
    assert (got.site, got.epoch, got.from_seq, got.to_seq) == (site, EPOCH, start, to_seq)
    assert got.evicted == to_seq - start + 1 - len(rows)
    assert got.events == [
        {
            "seq": r[0],
            "at": r[1],
            "kind": r[2],
            "class": r[3],
            "source": r[4],
            "body": json.loads(r[5]),
            "schema_version": r[6],
        }
        for r in rows
    ]


@given(st.binary(max_size=300))
def test_garbage_bytes_only_ever_raise_batch_error(data: bytes) -> None:
    with pytest.raises(BatchError):
        decode_batch(data)


@given(json_value)
def test_any_json_document_is_accepted_or_refused_cleanly(doc: object) -> None:
    try:
        decode_batch(gzip.compress(json.dumps(doc).encode()))
    except BatchError as exc:
        assert str(exc)


@given(batches(), st.sampled_from(["seq", "at", "kind", "class", "body", "schema_version"]))
def test_a_damaged_envelope_is_named(b: tuple[int, int, list[tuple]], key: str) -> None:
    start, to_seq, rows = b
    if not rows:
        return
    envs = [json.loads(envelope(r)) for r in rows]
    envs[-1][key] = None
    held = gaps(start, to_seq, [r[0] for r in rows])
    data = encode_batch("s", EPOCH, start, to_seq, [json.dumps(e) for e in envs], held)
    with pytest.raises(BatchError, match=rf"events\[{len(rows) - 1}\]\.{key}"):
        decode_batch(data)


def test_a_gzip_bomb_is_refused() -> None:
    with pytest.raises(TooLarge, match="inflates beyond"):
        decode_batch(gzip.compress(b" " * (17 * 1024 * 1024), compresslevel=9))


@given(st.integers(0, 10**9), st.integers(0, 10**9), json_value | st.integers())
def test_ack_is_never_beyond_what_was_committed(cursor: int, extra: int, ack: object) -> None:
    head = cursor + extra
    try:
        new = judge_ack(cursor, head, ack)
    except AckError as exc:
        assert "seq" in str(exc)
        assert not (isinstance(ack, int) and not isinstance(ack, bool) and 0 <= ack <= head)
    else:
        assert new == ack and 0 <= new <= head and not isinstance(ack, bool)


@given(st.integers(1, 200), st.floats(0.001, 10), st.floats(0.01, 1000), st.floats(0, 1))
def test_backoff_grows_with_jitter_and_is_capped(n: int, base: float, cap: float, r: float) -> None:
    d = backoff_delay(n, base, cap, lambda: r)
    span = min(cap, base * 2 ** (n - 1))
    assert span / 2 - 1e-9 <= d <= span + 1e-9
    assert d <= cap + 1e-9


_DB = Path(tempfile.mkdtemp()) / "outbox.db"


def _store(n: int) -> sqlite3.Connection:
    conn = open_store(_DB)
    if conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 0:
        t = datetime(2026, 1, 1, tzinfo=UTC)
        conn.executemany(
            "INSERT INTO journal (at, kind, cls, source, body, schema_version) "
            "VALUES (?, ?, ?, ?, ?, 1)",
            [
                (
                    (t + timedelta(seconds=i)).isoformat(),
                    "k",
                    "device",
                    "s",
                    json.dumps({"x": "y" * (i % 50)}),
                )
                for i in range(n)
            ],
        )
    return conn


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(1, 80), st.integers(1, 4000))
def test_outbox_batches_respect_count_and_bytes(
    cursor: int, max_events: int, max_bytes: int
) -> None:
    conn = _store(300)
    kv.put(conn, kv.ACKED_SEQ, cursor)
    pending = next_batch(conn, "s", max_events, max_bytes)
    if cursor == 300:
        assert pending is None
        return
    assert pending is not None
    got = decode_batch(pending.body)
    assert got.from_seq == cursor + 1 and got.to_seq == pending.to_seq
    assert [e["seq"] for e in got.events] == list(range(cursor + 1, pending.to_seq + 1))
    assert 1 <= pending.count <= max_events
    sizes = sum(
        len(envelope(tuple(r)))
        for r in conn.execute(
            "SELECT seq, at, kind, cls, source, body, schema_version FROM journal "
            "WHERE seq > ? AND seq <= ?",
            (cursor, pending.to_seq),
        )
    )
    assert pending.count == 1 or sizes <= max_bytes
    conn.close()


def _nest(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _raw(doc: object) -> bytes:
    return gzip.compress(json.dumps(doc).encode())


def _doc(**kw: object) -> dict[str, object]:
    env = {
        "seq": 1,
        "at": "2026-01-01T00:00:00+00:00",
        "kind": "k",
        "class": "device",
        "source": "s",
        "body": {},
        "schema_version": 1,
    }
    return {"site": "s", "epoch": EPOCH, "from_seq": 1, "to_seq": 1, "events": [env], **kw}


@given(
    st.integers(1, 50),
    st.lists(st.integers(0, 60), max_size=20, unique=True),
    st.integers(-3, 3),
)
def test_to_seq_must_be_covered_exactly(start: int, offsets: list[int], skew: int) -> None:
    """Events plus evicted ranges cover [from_seq, to_seq] exactly; any other to_seq is refused
    (an empty batch acked at 1,000,000 would make the hub drop the real events later)."""
    seqs = sorted(start + o for o in offsets)
    top = max(seqs, default=start)
    to_seq = max(top + skew, start)
    envs = [json.dumps({**_doc()["events"][0], "seq": s}) for s in seqs]  # type: ignore[index]
    data = encode_batch("s", EPOCH, start, to_seq, envs, gaps(start, top, seqs))
    if to_seq == top:
        assert decode_batch(data).to_seq == top
    else:
        with pytest.raises(BatchError):
            decode_batch(data)


def test_an_empty_batch_claiming_a_million_seqs_is_refused() -> None:
    with pytest.raises(BatchError, match="to_seq must be from_seq"):
        decode_batch(_raw(_doc(to_seq=1_000_000, events=[])))


@pytest.mark.parametrize(
    ("doc", "text"),
    [
        (_doc(from_seq=2**63), "int64"),
        (_doc(to_seq=2**64), "int64"),
        ('{"site": "s", "from_seq": ' + "9" * 5001 + "}", "int64"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (_doc(events=[{**_doc()["events"][0], "body": {"a": _nest(40)}}]), "nested deeper"),  # type: ignore[index]
        (_doc(events=[{**_doc()["events"][0], "body": {"x": 1e400}}]), "not a number"),
        (_doc(epoch="XYZ"), "epoch"),
    ],
)
def test_out_of_bounds_values_are_batch_errors(doc: object, text: str) -> None:
    raw = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    with pytest.raises(BatchError, match=text):
        decode_batch(gzip.compress(raw))


def test_every_gzip_member_is_read() -> None:
    text = json.dumps(_doc()).encode()
    assert decode_batch(gzip.compress(text[:10]) + gzip.compress(text[10:])).to_seq == 1


def test_too_many_values_are_refused_before_parsing() -> None:
    with pytest.raises(TooLarge, match="JSON values"):
        decode_batch(gzip.compress(b"[" + b"{}," * 700_000 + b"{}]"))


@given(
    stamps,
    st.sampled_from(["T", "t"]),
    st.sampled_from(["Z", "z", "+00:00", "+08:00"]),
)
def test_rfc3339_times_in_either_case(when: datetime, t: str, zone: str) -> None:
    text = when.strftime(f"%Y-%m-%d{t}%H:%M:%S") + zone
    assert parse_time(text).tzinfo is not None


@given(st.text(max_size=30))
def test_parse_time_refuses_or_returns_aware(text: str) -> None:
    try:
        assert parse_time(text).tzinfo is not None
    except ValueError:
        pass


@given(st.text(max_size=25))
def test_parse_int64_accepts_only_plain_digits(text: str) -> None:
    try:
        value = parse_int64(text, "after")
    except ValueError as exc:
        assert "after" in str(exc)
        assert not (text.isascii() and text.isdigit() and int(text) < 2**63)
    else:
        assert str(value) == text.lstrip("0") or (value == 0 and set(text) == {"0"})


def test_an_ack_beyond_the_head_says_what_to_do() -> None:
    """A replaced box used to loop on this with no hint (issue 12)."""
    with pytest.raises(
        AckError, match="hub acked seq 44, but this site has only committed up to 4"
    ) as exc:
        judge_ack(0, 4, 44)
    assert "edgectl sync reprovision" in str(exc.value)
    assert "edgectl hub sites reprovision" in str(exc.value)
