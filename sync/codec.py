"""The wire format of an event batch, the hub's ack, and the retry delay: pure functions.

A batch is gzip-compressed JSON::

    {"site": "s1", "epoch": "9f0c...", "from_seq": 101, "to_seq": 250,
     "events": [<envelope>, ...], "evicted": [[120, 122]]}

``epoch`` names the site's journal (chosen when its database was created), ``from_seq`` is
the sender's cursor + 1 and ``to_seq`` the last seq the batch covers. The envelopes and the
``evicted`` ranges (seqs deleted on the site under disk pressure, only ever telemetry)
together cover ``[from_seq, to_seq]`` exactly, once each: without evictions ``to_seq`` is
``from_seq + len(events) - 1``. An envelope is ``Entry.to_json()``: seq, at, kind, class,
source, body, schema_version.

Decoding is bounded before anything is built: the gzip stream (every member) is inflated
with a byte cap, the JSON is counted before it is parsed, integers are int64, strings and
arrays have the contract's maximum lengths, and nesting is limited.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.domain import EventClass

CONTRACT_VERSION = "1.1.0"  # sync/openapi.yaml info.version; the site checks it on connect
INT64_MAX = 2**63 - 1
MAX_DECODED_BYTES = 16 * 1024 * 1024  # an inflated batch (the contract's limit)
MAX_EVENTS = 10_000  # envelopes per batch (the contract's maxItems)
MAX_EVICTED = MAX_EVENTS + 1  # evicted ranges per batch
MAX_VALUES = MAX_EVENTS * 64  # JSON containers and separators per batch, counted before parsing
MAX_DEPTH = 32  # nesting of an event body
MAX_BODY_KEYS = 256  # fields of an event body
MAX_NAME = 128  # site, kind, source
EPOCH = re.compile(r"[0-9a-f]{16}")
SITE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_CLASSES = frozenset(str(c) for c in EventClass)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class BatchError(ValueError):
    """A batch is malformed; ``str()`` says where and what."""


class TooLarge(BatchError):
    """A batch is beyond the size limits (HTTP 413 ``payload_too_large``)."""


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


def encode_batch(
    site: str,
    epoch: str,
    from_seq: int,
    to_seq: int,
    envelopes: Sequence[str],
    evicted: Sequence[tuple[int, int]] = (),
) -> bytes:
    """The gzip-compressed batch body."""
    text = (
        f'{{"site":{_dumps(site)},"epoch":{_dumps(epoch)},"from_seq":{from_seq},'
        f'"to_seq":{to_seq},"events":[{",".join(envelopes)}],'
        f'"evicted":{_dumps([list(r) for r in evicted])}}}'
    )
    return gzip.compress(text.encode(), compresslevel=1)


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    epoch: str
    from_seq: int
    to_seq: int
    events: list[dict[str, Any]]
    evicted: int  # how many seqs of the range were declared evicted


def parse_time(text: str) -> datetime:
    """An RFC 3339 date-time with an offset (``T``/``Z`` in either case); ValueError if not."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 time with offset: {text!r:.40}")
    return datetime.fromisoformat(text.upper())


def parse_int64(text: str, where: str, minimum: int = 0) -> int:
    """A decimal integer in ``[minimum, 2^63-1]`` written as plain digits (no sign, ``_``, space)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > INT64_MAX:
        raise ValueError(f"{where}: expected an integer {minimum}..{INT64_MAX}, got {text!r:.40}")
    value = int(text)
    if value < minimum:
        raise ValueError(f"{where}: expected an integer {minimum}..{INT64_MAX}, got {value}")
    return value


def gunzip(data: bytes, limit: int = MAX_DECODED_BYTES) -> bytes:
    """Decompress every gzip member of ``data``; TooLarge beyond ``limit`` inflated bytes."""
    out = bytearray()
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise TooLarge(f"batch inflates beyond {limit} bytes")
            if not inflater.eof:
                raise BatchError("gzip stream is truncated")
            rest = inflater.unused_data
            if not rest.strip(b"\0"):
                return bytes(out)
    except zlib.error as exc:
        raise BatchError(f"not valid gzip: {exc}") from None


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or not -INT64_MAX - 1 <= int(text) <= INT64_MAX:
        raise BatchError(f"integer beyond int64: {text:.40}")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BatchError(f"number beyond a double: {text:.40}")
    return value


def _no_constant(text: str) -> Any:
    raise BatchError(f"not valid JSON: {text} is not a number")


def loads_bounded(data: bytes, where: str = "body") -> Any:
    """Parse JSON bytes with int64 integers, finite numbers and limited size and nesting."""
    values = data.count(b",") + data.count(b"{") + data.count(b"[")
    if values > MAX_VALUES:
        raise TooLarge(f"{where}: more than {MAX_VALUES} JSON values")
    try:
        return json.loads(
            data, parse_int=_json_int, parse_float=_json_float, parse_constant=_no_constant
        )
    except BatchError:
        raise
    except RecursionError:
        raise BatchError(f"{where}: JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BatchError(f"not valid JSON: {exc!s:.200}") from None


def _int(value: Any, where: str, minimum: int, maximum: int = INT64_MAX) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise BatchError(f"{where}: expected an integer {minimum}..{maximum}, got {value!r:.40}")
    return value


def _str(value: Any, where: str, *, empty: bool = False, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str) or (not empty and not value) or len(value) > limit:
        raise BatchError(f"{where}: expected a string of 1..{limit} characters, got {value!r:.40}")
    return value


def _depth(value: Any, where: str) -> None:
    level = [value]
    for _ in range(MAX_DEPTH):
        level = [
            v
            for c in level
            if isinstance(c, dict | list)
            for v in (c.values() if isinstance(c, dict) else c)
        ]
        if not level:
            return
    raise BatchError(f"{where}: nested deeper than {MAX_DEPTH}")


def _event(value: Any, where: str, lo: int, hi: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BatchError(f"{where}: expected an object")
    seq = _int(value.get("seq"), f"{where}.seq", lo)
    if seq > hi:
        raise BatchError(f"{where}.seq: {seq} outside [{lo}, {hi}]")
    at = _str(value.get("at"), f"{where}.at", limit=64)
    try:
        parse_time(at)
    except ValueError as exc:
        raise BatchError(f"{where}.at: {exc}") from None
    _str(value.get("kind"), f"{where}.kind")
    if value.get("class") not in _CLASSES:
        raise BatchError(f"{where}.class: expected one of {sorted(_CLASSES)}")
    _str(value.get("source"), f"{where}.source", empty=True)
    if not isinstance(value.get("body"), dict) or len(value["body"]) > MAX_BODY_KEYS:
        raise BatchError(f"{where}.body: expected an object of at most {MAX_BODY_KEYS} fields")
    _depth(value["body"], f"{where}.body")
    _int(value.get("schema_version"), f"{where}.schema_version", 1, 1000)
    return value


def _evicted(raw: Any, lo: int, hi: int) -> list[tuple[int, int]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_EVICTED:
        raise BatchError(f"evicted: expected a list of at most {MAX_EVICTED} [from, to] ranges")
    out = []
    for i, r in enumerate(raw):
        if not isinstance(r, list) or len(r) != 2:
            raise BatchError(f"evicted[{i}]: expected [from, to]")
        a = _int(r[0], f"evicted[{i}][0]", lo, hi)
        out.append((a, _int(r[1], f"evicted[{i}][1]", a, hi)))
    return out


def _covers(lo: int, hi: int, events: list[dict[str, Any]], evicted: list[tuple[int, int]]) -> int:
    """Check events and evicted ranges cover ``[lo, hi]`` once each; return the evicted count."""
    spans = sorted([(e["seq"], e["seq"]) for e in events] + evicted)
    expect = lo
    for a, b in spans:
        if a != expect:
            what = "covered twice" if a < expect else "neither sent nor declared evicted"
            raise BatchError(
                f"seq {min(a, expect)}: {what} (to_seq must be from_seq + "
                "len(events) - 1 plus the evicted seqs)"
            )
        expect = b + 1
    if expect != hi + 1:
        raise BatchError(
            f"to_seq: {hi} but events and evicted end at {expect - 1} "
            "(to_seq must be from_seq + len(events) - 1 plus the evicted seqs)"
        )
    return sum(b - a + 1 for a, b in evicted)


def decode_batch(data: bytes) -> Batch:
    """Parse and validate a gzip batch body; raise BatchError naming the first problem."""
    doc = loads_bounded(gunzip(data), "batch")
    if not isinstance(doc, dict):
        raise BatchError("batch: expected an object")
    site = _str(doc.get("site"), "site", limit=64)
    epoch = doc.get("epoch")
    if not isinstance(epoch, str) or not EPOCH.fullmatch(epoch):
        raise BatchError(f"epoch: expected 16 lower-case hex digits, got {epoch!r:.40}")
    lo = _int(doc.get("from_seq"), "from_seq", 1)
    hi = _int(doc.get("to_seq"), "to_seq", lo)
    raw = doc.get("events")
    if not isinstance(raw, list):
        raise BatchError("events: expected a list")
    if len(raw) > MAX_EVENTS:
        raise TooLarge(f"events: {len(raw)} envelopes, at most {MAX_EVENTS} per batch")
    events = [_event(e, f"events[{i}]", lo, hi) for i, e in enumerate(raw)]
    for i in range(1, len(events)):
        if events[i]["seq"] <= events[i - 1]["seq"]:
            raise BatchError(f"events[{i}].seq: not increasing ({events[i]['seq']})")
    evicted = _covers(lo, hi, events, _evicted(doc.get("evicted"), lo, hi))
    return Batch(site, epoch, lo, hi, events, evicted)


def judge_ack(cursor: int, head: int, ack: Any) -> int:
    """The new cursor after the hub acknowledged ``ack``.

    ``cursor`` is the site's acknowledged seq, ``head`` the highest seq it ever committed.
    An ack above ``head`` names events never sent: rejected. An ack below ``cursor`` means
    the hub lost data (e.g. restored from a backup): the cursor rewinds so it is resent.
    """
    if not isinstance(ack, int) or isinstance(ack, bool) or ack < 0:
        raise AckError(f"hub ack is not a seq: {ack!r:.40}")
    if ack > head:
        raise AckError(
            f"hub acked seq {ack}, but this site has only committed up to {head}: the hub "
            "holds more of this journal than this database (restored from a backup?). To go "
            "on without losing events, re-provision: `edgectl sync reprovision` on the site, "
            "then `edgectl hub sites reprovision SITE` at the hub"
        )
    return ack
