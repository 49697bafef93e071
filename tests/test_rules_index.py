"""The AccessIndex on a real SQLite file: lookups, durable state changes, modes, scale.

Changes go through the site service (``site.admin``, actor ``system``), as in the daemon."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.config import Config
from edgectl.domain import CredentialPresented, HoldRelay, OpenGate
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store import pinkeys
from edgectl.store.access_index import AccessIndex
from edgectl.store.credentials import CredentialError, credential_values
from edgectl.store.db import open_store
from rules.access import Decision, decide, pin_digest
from sync.outbox import record_sync
from tests.access_site import access_site, write_cards_csv

T0 = datetime(2026, 6, 1, 4, tzinfo=UTC)  # 12:00 in Shanghai, a Monday


class Admin:
    """The site service with the test's actor filled in. Like the daemon's callers, it
    lets the index's queued decision updates reach the disk before a change (a forgive)."""

    def __init__(self, service: SiteService, index: AccessIndex) -> None:
        self.service = service
        self.index = index

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.service, name)

        def call(*args: Any, **kw: Any) -> Any:
            assert self.index.effects.flush(5)
            result = method(*args, actor=SYSTEM, **kw)
            if name == "forgive":
                self.index.forget(args[0])
            return result

        return call


def pin_key(cfg: Config) -> bytes:
    """The site's key for enrolling a PIN (made on first use, as the CLI does)."""
    return pinkeys.current_key(pinkeys.keyring_path(cfg.store.path))


@dataclass
class Site:
    cfg: Config
    index: AccessIndex
    admin: Admin

    def present(
        self,
        reader_id: str,
        now: datetime = T0,
        *,
        number: int = 0,
        pin: str | None = None,
        facility: int | None = 10,
        plate: str | None = None,
    ) -> Decision:
        reader = next(r for r in self.cfg.readers if r.id == reader_id)
        fmt = "pin" if pin and not number else "plate" if plate else "h10301"
        event = CredentialPresented(
            source=reader_id,
            at=now,
            format=fmt,
            facility=facility if number else None,
            number=number,
            bits=26,
            pin=pin,
            plate=plate,
        )
        decision = decide(self.index.state_for(event, reader), event, now)
        self.index.apply(decision)
        return decision


def make_site(directory: Path, **access: object) -> Site:
    cfg = access_site(directory, **access)
    index = AccessIndex.load(open_store(cfg.store.path), cfg)
    return Site(cfg, index, Admin(SiteService.open(cfg), index))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(
        tmp_path,
        areas=[{"id": "compound", "antipassback": "hard"}],
        points=[{"target": "door-lobby", "antipassback": "soft", "antipassback_s": 30}],
        schedules=[{"id": "daytime", "mon": ["08:00-18:00"]}],
    )
    s.admin.define_level("all", ["*"])
    s.admin.upsert_person("host-1", name="Host", role="resident")
    s.admin.add_card("res-1", 10, 1)
    s.admin.add_card("guard-1", 10, 2, role="guard")
    yield s
    s.index.close()
    s.index.conn.close()
    s.admin.service.close()


def test_card_lookup_status_and_move_out(site: Site) -> None:
    assert site.present("r-lobby", number=1).reason == "granted"
    assert site.present("r-lobby", number=99).reason == "unknown_credential"
    site.admin.set_card_status(10, 1, "suspended")
    assert site.present("r-lobby", number=1).reason == "suspended"
    site.admin.set_card_status(10, 1, "active")
    assert site.admin.revoke_person("res-1") == 1
    assert site.present("r-lobby", number=1).reason == "revoked"


def test_duplicate_and_inverted_credentials_are_refused(site: Site) -> None:
    with pytest.raises(CredentialError, match="card 10:1 is already registered"):
        site.admin.add_credential("host-1", credential_values("card", facility=10, number=1))
    with pytest.raises(ValueError, match="ends before it starts"):
        credential_values("card", number=5, valid_from=T0, valid_until=T0)


def test_visitor_pass_in_one_call_with_uses_gates_and_expiry(site: Site) -> None:
    issued = site.admin.issue_visitor_pass(
        "Zhang San", "host-1", T0 + timedelta(hours=2), ["gate-main"], uses=2, now=T0
    )
    assert len(issued.code) == 8 and issued.code.isdigit()
    assert site.present("r-lobby", pin=issued.code).reason == "wrong_door"
    first = site.present("r-gate-in", pin=issued.code)
    assert first.granted and OpenGate(target="gate-main") in first.effects
    assert site.present("r-gate-out", pin=issued.code).granted
    assert site.present("r-gate-in", pin=issued.code).reason == "visitor_uses_exhausted"
    other = site.admin.issue_visitor_pass(
        "Li Si", "host-1", T0 + timedelta(hours=1), ["gate-main"], uses=0, now=T0
    )
    late = T0 + timedelta(hours=1)
    assert site.present("r-gate-in", late, pin=other.code).reason == "expired"
    with pytest.raises(CredentialError, match="no resident"):
        site.admin.issue_visitor_pass("X", "guard-1", late, ["gate-main"], now=T0)


def test_host_move_out_revokes_their_visitors_passes(site: Site) -> None:
    issued = site.admin.issue_visitor_pass(
        "Wang Wu", "host-1", T0 + timedelta(hours=2), ["gate-main"], uses=5, now=T0
    )
    assert site.present("r-gate-in", pin=issued.code).granted
    assert site.admin.revoke_person("host-1", now=T0) == 1
    assert site.present("r-gate-out", pin=issued.code).reason == "revoked"


def test_area_antipassback_and_operator_forgive(site: Site) -> None:
    assert site.present("r-gate-in", number=1).granted
    assert site.present("r-gate-in", number=1).reason == "antipassback"
    assert site.admin.forgive("res-1") == 1
    assert site.present("r-gate-in", number=1).granted
    assert site.present("r-gate-out", number=1).granted
    assert site.present("r-gate-out", number=1).reason == "antipassback"


def test_timed_soft_antipassback_grants_and_alarms(site: Site) -> None:
    assert site.present("r-lobby", number=1).reason == "granted"
    soon = site.present("r-lobby", T0 + timedelta(seconds=29), number=1)
    assert (soon.granted, soon.reason) == (True, "antipassback_soft")
    assert any(getattr(e, "alarm", "") == "antipassback" for e in soon.effects)
    assert site.present("r-lobby", T0 + timedelta(seconds=60), number=1).reason == "granted"


def test_levels_groups_and_schedules(site: Site) -> None:
    site.admin.define_level("lobby-day", ["door-lobby"], schedule="daytime")
    site.admin.define_group("cleaners", ["lobby-day"])
    site.admin.upsert_person("c-1", role="contractor")
    site.admin.add_credential("c-1", credential_values("card", facility=10, number=50))
    assert site.present("r-lobby", number=50).reason == "wrong_door"
    site.admin.join_group("c-1", "cleaners")
    assert site.present("r-lobby", number=50).granted
    evening = T0 + timedelta(hours=7)  # 19:00 local
    assert site.present("r-lobby", evening, number=50).reason == "outside_schedule"
    assert site.present("r-gate-in", number=50).reason == "wrong_door"
    with pytest.raises(CredentialError, match="unknown schedule 'nights'"):
        site.admin.define_level("x", ["door-lobby"], schedule="nights")


def test_modes_persist_and_drive_decisions(site: Site, tmp_path: Path) -> None:
    relock = site.admin.set_lockdown(True)
    assert HoldRelay(target="door-lobby", on=False) in relock
    assert site.present("r-lobby", number=1).reason == "lockdown"
    assert site.present("r-lobby", number=2).granted  # the guard
    release = site.admin.set_emergency(True)
    assert OpenGate(target="gate-main") in release
    assert HoldRelay(target="door-exit", on=True) in release
    assert HoldRelay(target="door-lobby", on=True) not in release
    assert site.present("r-exit", number=12345).reason == "emergency"
    reloaded = AccessIndex.load(open_store(site.cfg.store.path), site.cfg)
    assert (reloaded.modes.lockdown, reloaded.modes.emergency) == (True, True)
    reloaded.conn.close()


def test_changes_from_another_process_reach_a_running_index(site: Site) -> None:
    other = SiteService.open(site.cfg)  # another process's service (the CLI)
    other.define_level("gate-only", ["gate-main"], actor=SYSTEM)
    other.upsert_person("new-1", actor=SYSTEM)
    other.add_credential("new-1", credential_values("card", facility=10, number=77), actor=SYSTEM)
    other.grant_level("new-1", "gate-only", actor=SYSTEM)
    other.set_lockdown(True, actor=SYSTEM)
    other.close()
    assert site.present("r-gate-in", number=2).granted  # guard, lockdown seen
    assert site.present("r-gate-in", number=77).reason == "lockdown"


def test_stale_sync_applies_the_degraded_policy(tmp_path: Path) -> None:
    s = make_site(tmp_path, max_offline_days=2, degraded_policy="deny_all_but_staff")
    s.admin.add_card("res-1", 10, 1)
    record_sync(s.admin.service.conn, T0 - timedelta(days=3))  # what the sync client writes
    assert s.present("r-lobby", number=1).reason == "degraded_mode"
    record_sync(s.admin.service.conn, T0 - timedelta(days=1))
    assert s.present("r-lobby", number=1).granted


def test_plates_and_pins(site: Site) -> None:
    site.admin.add_credential("res-1", credential_values("plate", plate="粤B 12-345"))
    site.admin.add_credential(
        "guard-1",
        credential_values("pin", pin="246810", duress_pin="246811", key=pin_key(site.cfg)),
    )
    assert site.present("r-gate-in", plate="粤b12345").granted
    assert site.present("r-lobby", pin="246810").granted
    duress = site.present("r-lobby", pin="246811")
    assert duress.granted and any(getattr(e, "silent", False) for e in duress.effects)
    assert site.present("r-lobby", pin="000000").reason == "unknown_credential"


def test_card_then_pin_on_the_keypad(site: Site) -> None:
    values = credential_values(
        "card_pin", facility=10, number=60, pin="4321", duress_pin="4329", key=pin_key(site.cfg)
    )
    site.admin.add_credential("res-1", values)
    waiting = site.present("r-lobby", number=60)
    assert (waiting.granted, waiting.reason, waiting.effects) == (False, "pin_required", ())
    assert site.present("r-lobby", T0 + timedelta(seconds=3), pin="1111").reason == "pin_wrong"
    site.present("r-lobby", number=60)
    assert site.present("r-lobby", T0 + timedelta(seconds=3), pin="4321").granted
    site.present("r-lobby", number=60)
    late = site.present("r-lobby", T0 + timedelta(seconds=10), pin="4321")
    assert late.reason == "unknown_credential"  # too late: taken as a PIN on its own
    site.present("r-lobby", number=60)
    other_reader = site.present("r-gate-in", T0 + timedelta(seconds=1), pin="4321")
    assert other_reader.reason == "unknown_credential"


# --- the same answers at 1,000 and at 50,000 credentials --------------------------------

PROBES = [  # number, status, valid_from, valid_until, levels
    (60_001, "active", "", "", "all"),
    (60_002, "revoked", "", "", "all"),
    (60_003, "suspended", "", "", "all"),
    (60_004, "active", "2026-06-01T13:00", "", "all"),
    (60_005, "active", "", "2026-06-01T11:00", "all"),
    (60_006, "active", "", "", "lobby"),
    (60_007, "active", "", "", ""),
]


def _scaled(directory: Path, count: int) -> Site:
    s = make_site(directory)
    s.admin.define_level("all", ["*"])
    s.admin.define_level("lobby", ["door-lobby"])
    base = write_cards_csv(directory / "base.csv", count, level="all")
    assert not s.admin.import_cards(base).errors
    probes = directory / "probes.csv"
    with probes.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["person_id", "number", "facility", "status", "valid_from", "valid_until", "levels"]
        )
        for n, status, vf, vu, levels in PROBES:
            out.writerow([f"probe-{n}", n, 10, status, vf, vu, levels])
    assert not s.admin.import_cards(probes).errors
    return s


@pytest.fixture(scope="module")
def small_and_large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, Site]:
    return (
        _scaled(tmp_path_factory.mktemp("k1"), 1_000),
        _scaled(tmp_path_factory.mktemp("k50"), 50_000),
    )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([p[0] for p in PROBES] + [1, 999, 1_001, 49_999, 77_777_777]),
    st.sampled_from(["r-gate-in", "r-lobby", "r-exit"]),
    st.integers(0, 86400 * 2),
)
def test_decisions_do_not_depend_on_how_many_credentials_there_are(
    small_and_large: tuple[Site, Site], number: int, reader: str, offset_s: int
) -> None:
    small, large = small_and_large
    now = T0 - timedelta(days=1) + timedelta(seconds=offset_s)
    a = small.present(reader, now, number=number)
    b = large.present(reader, now, number=number)
    if number > 1_000 and number < 60_000:
        assert a.reason == "unknown_credential"  # only the large site holds it
        return
    assert (a.granted, a.reason, a.effects, a.person_id) == (
        b.granted,
        b.reason,
        b.effects,
        b.person_id,
    )


def test_revoked_visitor_pass_and_validity_changes(site: Site) -> None:
    issued = site.admin.issue_visitor_pass(
        "Guest", "host-1", T0 + timedelta(hours=2), ["gate-main"], uses=0, now=T0
    )
    assert site.admin.revoke_visitor_pass(issued.code)
    assert site.present("r-gate-in", pin=issued.code).reason == "revoked"
    card = site.admin.service.card_id(10, 1)
    assert card is not None
    assert site.admin.set_validity(card, T0 + timedelta(hours=1), None)
    assert site.present("r-lobby", number=1).reason == "not_yet_valid"
    with pytest.raises(CredentialError, match="ends before it starts"):
        site.admin.set_validity(card, T0, T0 - timedelta(seconds=1))


def test_card_without_facility_is_unique_by_number(tmp_path: Path) -> None:
    cfg = access_site(tmp_path)
    service = SiteService.open(cfg)
    service.upsert_person("a", actor=SYSTEM)
    service.upsert_person("b", actor=SYSTEM)
    service.add_credential("a", credential_values("card", number=5), actor=SYSTEM)
    with pytest.raises(CredentialError, match="card 5 is already registered"):
        service.add_credential("b", credential_values("card", number=5), actor=SYSTEM)


def test_decision_updates_count_once_while_the_store_is_locked(site: Site) -> None:
    """Pass uses and anti-passback moves made while another connection holds the write lock
    apply to the next swipe at once, reach the disk in order once it goes, and are never
    counted twice (the in-memory overlay and the snapshot never both hold one)."""
    issued = site.admin.issue_visitor_pass(
        "Guest", "host-1", T0 + timedelta(hours=2), ["gate-main"], uses=3, now=T0
    )
    other = sqlite3.connect(site.cfg.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT OR REPLACE INTO kv VALUES ('test.lock', '1')")
    assert site.present("r-gate-in", pin=issued.code).granted
    assert site.present("r-gate-in", number=1).granted  # res-1 enters the compound
    assert site.present("r-gate-in", number=1).reason == "antipassback"
    assert site.present("r-gate-out", pin=issued.code).granted  # second use
    assert not site.index.effects.flush(0.3)  # nothing reached the disk yet
    other.execute("COMMIT")
    other.close()
    assert site.index.effects.flush(10)
    assert site.present("r-gate-in", pin=issued.code).granted  # third: not counted twice
    assert site.present("r-gate-out", pin=issued.code).reason == "visitor_uses_exhausted"
    assert site.index.effects.flush(10)
    assert site.present("r-gate-in", number=1).reason == "antipassback"
    conn = sqlite3.connect(site.cfg.store.path)
    try:
        uses = conn.execute("SELECT uses FROM visitor_passes").fetchone()[0]
        position = conn.execute(
            "SELECT state FROM antipassback WHERE person_id = 'res-1' AND scope LIKE 'area:%'"
        ).fetchone()[0]
    finally:
        conn.close()
    assert (uses, position) == (3, "in")


def test_legacy_unkeyed_pins_still_verify_until_re_enrolled(site: Site) -> None:
    """Rows enrolled before keyed digests hold a plain SHA-256 (no ``h1:`` prefix: that is
    their flag); they keep working, and a new enrollment is keyed."""
    conn = sqlite3.connect(site.cfg.store.path)
    conn.execute(
        "INSERT INTO credentials (kind, format, secret, status, person_id, updated_at) "
        "VALUES ('pin', 'pin', ?, 'active', 'guard-1', '2026-01-01T00:00:00+00:00')",
        (pin_digest("135790"),),
    )
    conn.commit()
    conn.close()
    assert site.present("r-lobby", pin="135790").granted
    key = pin_key(site.cfg)
    values = credential_values("pin", pin="975310", key=key)
    assert values.secret == pin_digest("975310", key) and values.secret.startswith("h1:")
    site.admin.add_credential("guard-1", values)
    assert site.present("r-lobby", pin="975310").granted
    assert site.present("r-lobby", pin="975311").reason == "unknown_credential"
    with pytest.raises(ValueError, match="no PIN key"):
        credential_values("pin", pin="975312")  # never stored unkeyed any more


def test_a_visitor_code_is_kept_only_as_a_keyed_digest(site: Site) -> None:
    issued = site.admin.issue_visitor_pass(
        "Zhang San", "host-1", T0 + timedelta(hours=2), ["gate-main"], uses=0, now=T0
    )
    stored = site.index.conn.execute(
        "SELECT secret FROM credentials WHERE kind = 'visitor'"
    ).fetchone()[0]
    assert stored != issued.code and stored.startswith("h1:")
    site.index.conn.execute("PRAGMA wal_checkpoint(FULL)")
    db = Path(site.cfg.store.path)
    for path in (db, Path(f"{db}-wal")):
        if path.exists():
            assert issued.code.encode() not in path.read_bytes(), path
    assert site.present("r-gate-in", pin=issued.code).granted  # and the code still works
    assert site.admin.revoke_visitor_pass(issued.code)
    assert site.present("r-gate-in", pin=issued.code).reason == "revoked"
