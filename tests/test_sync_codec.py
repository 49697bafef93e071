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
    decode_batch,
    encode_batch,
    envelope,
    judge_ack,
)
from sync.outbox import next_batch

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
    got = decode_batch(encode_batch(site, start, to_seq, [envelope(r) for r in rows]))
    assert (got.site, got.from_seq, got.to_seq) == (site, start, to_seq)
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
    data = encode_batch("s", start, to_seq, [json.dumps(e) for e in envs])
    with pytest.raises(BatchError, match=rf"events\[{len(rows) - 1}\]\.{key}"):
        decode_batch(data)


def test_a_gzip_bomb_is_refused() -> None:
    with pytest.raises(BatchError, match="inflates beyond"):
        decode_batch(gzip.compress(b" " * (65 * 1024 * 1024), compresslevel=9))


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
