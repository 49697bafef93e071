"""Property tests of the pulled-record validator and the one-transaction applier."""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.config import parse
from edgectl.site.actor import HUB
from edgectl.site.service import SiteService
from edgectl.store import kv
from edgectl.store.db import open_store
from edgectl.store.journal import read_entries
from edgectl.store.workorders import WorkOrderError, validate_order
from rules.access import pin_digest
from sync.apply import Change, InvalidRecord, parse_changes

ids = st.text("abcdefgh0123456789-", min_size=1, max_size=6)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CFG = parse('[site]\nid = "s"\n[[doors]]\nid = "d1"\n')


def apply_changes(
    conn: sqlite3.Connection, changes: list[Change], cursor: int, now: datetime, **kw: Any
) -> None:
    """A pulled page, applied as the sync client does: through the site service."""
    SiteService(conn, CFG).apply_hub_changes(changes, cursor, now=now, **kw)


@st.composite
def valid_batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    levels = draw(st.lists(ids, max_size=3, unique=True))
    people = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    records: list[dict[str, Any]] = [
        {
            "type": "access_level",
            "op": "upsert",
            "id": lv,
            "data": {"name": lv, "targets": draw(st.lists(ids, max_size=2))},
        }
        for lv in levels
    ]
    records += [
        {
            "type": "person",
            "op": "upsert",
            "id": p,
            "data": {
                "name": p,
                "role": "resident",
                "notify_arrival": draw(st.booleans()),
                "levels": draw(st.lists(st.sampled_from(levels), max_size=2)) if levels else [],
            },
        }
        for p in people
    ]
    numbers = draw(st.lists(st.integers(0, 0xFFFF), max_size=6, unique=True))
    records += [
        {
            "type": "credential",
            "op": "upsert",
            "id": i + 1,
            "data": {
                "person_id": draw(st.sampled_from(people)),
                "number": n,
                "facility": 12,
                "status": draw(st.sampled_from(["active", "revoked", "suspended"])),
            },
        }
        for i, n in enumerate(numbers)
    ]
    return draw(st.permutations(records))


BREAKS = [
    ("credential", "data", {"person_id": "p", "number": 1, "status": "gone"}),
    ("credential", "data", {"person_id": "", "number": 1}),
    ("credential", "data", {"person_id": "p", "number": "12"}),
    ("credential", "data", {"person_id": "p", "number": 1, "valid_until": "soon"}),
    ("credential", "id", "seven"),
    ("person", "data", {"levels": "all"}),
    ("person", "data", {"notify_arrival": "yes"}),
    ("access_level", "data", {"targets": [1]}),
    ("person", "op", "merge"),
    ("person", "type", "pet"),
    ("person", "data", {"role": "landlord"}),
    ("credential", "data", {"person_id": "p", "kind": "pin", "pin": "1234"}),  # clear PIN
    ("credential", "data", {"person_id": "p", "kind": "pin", "pin_digest": "0" * 64}),  # unkeyed
    ("group", "data", {"levels": [""]}),
]


def fresh_db() -> sqlite3.Connection:
    return open_store(Path(tempfile.mkdtemp()) / "edge.db")


def snapshot(conn: sqlite3.Connection) -> list[Any]:
    return [
        [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")]
        for t in ("people", "credentials", "access_levels", "access_level_targets", "person_levels")
    ]


@settings(max_examples=60, deadline=None)
@given(valid_batches())
def test_a_valid_batch_applies_whole(records: list[dict[str, Any]]) -> None:
    conn = fresh_db()
    apply_changes(conn, parse_changes(records), 42, NOW)
    assert kv.get(conn, kv.CHANGES_CURSOR) == "42"
    audit = read_entries(conn)
    assert [(e.kind, e.body["actor"], e.body["interface"]) for e in audit] == [
        ("site_changed", HUB.who, HUB.interface)
    ]
    assert audit[0].body["details"]["cursor"] == 42
    creds = [r for r in records if r["type"] == "credential"]
    got = conn.execute(
        "SELECT hub_id, number, person_id, status FROM credentials ORDER BY hub_id"
    ).fetchall()
    assert [tuple(g) for g in got] == sorted(
        (c["id"], c["data"]["number"], c["data"]["person_id"], c["data"]["status"]) for c in creds
    )
    conn.close()


@settings(max_examples=60, deadline=None)
@given(valid_batches(), st.sampled_from(BREAKS), st.data())
def test_one_bad_record_is_named_and_nothing_applies(
    records: list[dict[str, Any]], brk: tuple[str, str, Any], data: st.DataObject
) -> None:
    conn = fresh_db()
    already = [
        {"type": "person", "op": "upsert", "id": "pre", "data": {"name": "P"}},
        {
            "type": "credential",
            "op": "upsert",
            "id": 1000,
            "data": {"person_id": "pre", "number": 2**27, "format": "raw40"},
        },
    ]
    apply_changes(conn, parse_changes(already), 1, NOW)
    before = snapshot(conn)
    bad = {"type": brk[0], "op": "upsert", "id": 99 if brk[0] == "credential" else "zz", "data": {}}
    bad[brk[1]] = brk[2]
    at = data.draw(st.integers(0, len(records)))
    batch = [*records[:at], bad, *records[at:]]
    with pytest.raises(InvalidRecord) as exc:
        apply_changes(conn, parse_changes(batch), 2, NOW)
    assert exc.value.index == at
    assert snapshot(conn) == before and kv.get(conn, kv.CHANGES_CURSOR) == "1"
    assert len(read_entries(conn)) == 1  # the first page's audit only: none for the refused
    conn.close()


@given(st.lists(ids, min_size=1, max_size=3, unique=True))
def test_a_broken_reference_is_named_and_nothing_applies(people: list[str]) -> None:
    conn = fresh_db()
    batch = [{"type": "person", "op": "upsert", "id": p, "data": {}} for p in people]
    batch.append(
        {
            "type": "credential",
            "op": "upsert",
            "id": 5,
            "data": {"person_id": "nobody", "number": 5},
        }
    )
    with pytest.raises(InvalidRecord, match=r"record \d+ \(id 5\): credential upsert: FOREIGN KEY"):
        apply_changes(conn, parse_changes(batch), 2, NOW)
    assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 0
    conn.close()


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "kind",
                "priority",
                "title",
                "status",
                "created_at",
                "respond_by",
                "complete_by",
                "x",
            ]
        ),
        st.none() | st.text(max_size=30) | st.integers(),
    )
)
def test_work_order_validator_refuses_cleanly(doc: dict[str, Any]) -> None:
    try:
        validate_order(doc)
    except WorkOrderError as exc:
        assert str(exc)


def test_site_credentials_survive_pulls_and_resyncs(tmp_path: Path) -> None:
    """Cards and visitor passes created on site have no hub_id: pulls never touch them."""
    from edgectl.site.actor import SYSTEM
    from edgectl.store.credentials import credential_values

    conn = open_store(tmp_path / "edge.db")
    site = SiteService(conn, CFG)
    site.upsert_person("local", name="L", actor=SYSTEM)
    card = credential_values("card", facility=1, number=1)
    local_id = site.add_credential("local", card, actor=SYSTEM)
    hub = [
        {"type": "access_level", "op": "upsert", "id": "all", "data": {"targets": ["d1"]}},
        {"type": "group", "op": "upsert", "id": "family", "data": {"levels": ["all"]}},
        {"type": "person", "op": "upsert", "id": "h", "data": {"groups": ["family"]}},
        {
            "type": "credential",
            "op": "upsert",
            "id": 1,
            "data": {
                "person_id": "h",
                "kind": "card_pin",
                "number": 2,
                "pin_digest": pin_digest("4321", b"k" * 32),
            },
        },
    ]
    rev = kv.get(conn, "access.rev", "0")
    apply_changes(conn, parse_changes(hub), 1, NOW)
    assert kv.get(conn, "access.rev") != rev  # the index reloads levels and groups
    row = conn.execute("SELECT id, hub_id, pin FROM credentials WHERE hub_id = 1").fetchone()
    assert row[0] != local_id and row[2] == pin_digest("4321", b"k" * 32)  # the keyed digest
    assert conn.execute("SELECT group_id FROM person_groups").fetchall()[0][0] == "family"
    # a full resync without the hub's card: the hub card goes, the site's card stays
    apply_changes(conn, parse_changes(hub[:3]), 2, NOW, replace=True)
    rows = conn.execute("SELECT id, hub_id FROM credentials").fetchall()
    assert [tuple(r) for r in rows] == [(local_id, None)]
    assert {r[0] for r in conn.execute("SELECT id FROM people")} == {"local", "h"}
    conn.close()
