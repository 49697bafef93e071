"""The wire format of an event batch, the hub's ack, and the retry delay: pure functions.

A batch is gzip-compressed JSON::

    {"site": "s1", "from_seq": 101, "to_seq": 250, "events": [<envelope>, ...]}

``from_seq`` is the sender's cursor + 1 and ``to_seq`` the last seq the batch covers. Every
seq in ``[from_seq, to_seq]`` that has no envelope was evicted on the site under disk
pressure (only ever telemetry), so the range is always contiguous for the hub. An envelope
is ``Entry.to_json()``: seq, at, kind, class, source, body, schema_version.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.domain import EventClass

MAX_DECODED_BYTES = 64 * 1024 * 1024
_CLASSES = frozenset(str(c) for c in EventClass)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class BatchError(ValueError):
    """A batch is malformed; ``str()`` says where and what."""


class AckError(ValueError):
    """The hub acknowledged something it cannot have been sent."""


Row = tuple[int, str, str, str, str, str, int]  # seq, at, kind, cls, source, body JSON, version


def envelope(row: Row) -> str:
    """One journal row as envelope JSON text, without re-parsing its stored body."""
    seq, at, kind, cls, source, body, version = row
    return (
        f'{{"seq":{seq},"at":{_dumps(at)},"kind":{_dumps(kind)},"class":{_dumps(cls)},'
        f'"source":{_dumps(source)},"body":{body},"schema_version":{version}}}'
    )


def encode_batch(site: str, from_seq: int, to_seq: int, envelopes: Sequence[str]) -> bytes:
    """The gzip-compressed batch body."""
    text = (
        f'{{"site":{_dumps(site)},"from_seq":{from_seq},"to_seq":{to_seq},'
        f'"events":[{",".join(envelopes)}]}}'
    )
    return gzip.compress(text.encode(), compresslevel=1)


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    from_seq: int
    to_seq: int
    events: list[dict[str, Any]]


def gunzip(data: bytes, limit: int = MAX_DECODED_BYTES) -> bytes:
    """Decompress ``data``, refusing anything that inflates beyond ``limit`` bytes."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit:
            raise BatchError(f"batch inflates beyond {limit} bytes")
        if not inflater.eof:
            raise BatchError("gzip stream is truncated")
    except zlib.error as exc:
        raise BatchError(f"not valid gzip: {exc}") from None
    return out


def _int(value: Any, where: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BatchError(f"{where}: expected an integer >= {minimum}, got {value!r:.40}")
    return value


def _str(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise BatchError(f"{where}: expected a non-empty string, got {value!r:.40}")
    return value


def _event(value: Any, where: str, lo: int, hi: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BatchError(f"{where}: expected an object")
    seq = _int(value.get("seq"), f"{where}.seq", lo)
    if seq > hi:
        raise BatchError(f"{where}.seq: {seq} outside [{lo}, {hi}]")
    at = _str(value.get("at"), f"{where}.at")
    try:
        stamp = datetime.fromisoformat(at)
    except ValueError:
        raise BatchError(f"{where}.at: not an ISO 8601 time: {at!r:.40}") from None
    if stamp.tzinfo is None:
        raise BatchError(f"{where}.at: time has no timezone: {at!r:.40}")
    _str(value.get("kind"), f"{where}.kind")
    if value.get("class") not in _CLASSES:
        raise BatchError(f"{where}.class: expected one of {sorted(_CLASSES)}")
    _str(value.get("source"), f"{where}.source", empty=True)
    if not isinstance(value.get("body"), dict):
        raise BatchError(f"{where}.body: expected an object")
    _int(value.get("schema_version"), f"{where}.schema_version", 1)
    return value


def decode_batch(data: bytes) -> Batch:
    """Parse and validate a gzip batch body; raise BatchError naming the first problem."""
    try:
        doc = json.loads(gunzip(data))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BatchError("batch: expected an object")
    site = _str(doc.get("site"), "site")
    lo = _int(doc.get("from_seq"), "from_seq", 1)
    hi = _int(doc.get("to_seq"), "to_seq", lo)
    raw = doc.get("events")
    if not isinstance(raw, list):
        raise BatchError("events: expected a list")
    events = [_event(e, f"events[{i}]", lo, hi) for i, e in enumerate(raw)]
    for i in range(1, len(events)):
        if events[i]["seq"] <= events[i - 1]["seq"]:
            raise BatchError(f"events[{i}].seq: not increasing ({events[i]['seq']})")
    return Batch(site, lo, hi, events)


def judge_ack(cursor: int, head: int, ack: Any) -> int:
    """The new cursor after the hub acknowledged ``ack``.

    ``cursor`` is the site's acknowledged seq, ``head`` the highest seq it ever committed.
    An ack above ``head`` names events never sent: rejected. An ack below ``cursor`` means
    the hub lost data (e.g. restored from a backup): the cursor rewinds so it is resent.
    """
    if not isinstance(ack, int) or isinstance(ack, bool) or ack < 0:
        raise AckError(f"hub ack is not a seq: {ack!r:.40}")
    if ack > head:
        raise AckError(f"hub acked seq {ack}, but this site has only committed up to {head}")
    return ack
