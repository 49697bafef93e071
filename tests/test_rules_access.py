"""Properties and scenarios of the pure access rules, over generated people, credentials,
levels, modes and times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.config import ROLES
from edgectl.domain import (
    AccessAlarm,
    Arrival,
    CredentialPresented,
    HoldRelay,
    OpenGate,
    PulseRelay,
)
from rules.access import (
    AccessState,
    CredentialView,
    Level,
    Modes,
    Person,
    Position,
    VisitorPass,
    decide,
    pin_digest,
)
from rules.policy import SitePolicy
from rules.schedule import ALWAYS
from tests.access_site import access_site

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> SitePolicy:
    cfg = access_site(
        tmp_path_factory.mktemp("site"),
        security_roles=["guard"],
        areas=[{"id": "compound", "antipassback": "hard"}],
    )
    return SitePolicy.from_config(cfg)


def card(number: int = 1, pin: str | None = None) -> CredentialPresented:
    return CredentialPresented(
        source="r", at=T0, format="h10301", facility=10, number=number, bits=26, pin=pin
    )


def state(
    policy: SitePolicy, target: str, cred: CredentialView | None, **kw: object
) -> AccessState:
    reader, direction = {
        "gate-main": ("r-gate-in", "in"),
        "door-lobby": ("r-lobby", "in"),
        "door-exit": ("r-exit", "out"),
    }[target]
    base = AccessState(
        policy=policy,
        reader=reader,
        direction=direction,
        target=policy.targets[target],
        credential=cred,
        levels=(Level("all", ALWAYS, frozenset({"*"})),),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


people = st.builds(
    Person,
    id=st.text("abc123", min_size=1, max_size=6),
    role=st.sampled_from(ROLES),
    butler_id=st.none() | st.just("butler-1"),
    notify_arrival=st.booleans(),
    extended_s=st.sampled_from([0.0, 5.0]),
)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)
credentials = st.builds(
    CredentialView,
    id=st.integers(1, 10**6),
    kind=st.sampled_from(["card", "card_pin", "pin", "plate"]),
    status=st.sampled_from(["active", "suspended", "revoked"]),
    person=people,
    valid_from=st.none() | instants,
    valid_until=st.none() | instants,
    pin_digest=st.just(pin_digest("1234")),
    duress_digest=st.just(pin_digest("9999")),
)
targets = st.sampled_from(["gate-main", "door-lobby", "door-exit"])
mode_sets = st.builds(Modes, lockdown=st.booleans(), emergency=st.booleans())
pins = st.sampled_from([None, "1234", "9999", "0000"])


@settings(max_examples=300)
@given(credentials, targets, instants, mode_sets, pins)
def test_revoked_never_grants_outside_emergency_release(
    policy: SitePolicy, cred: CredentialView, target: str, now: datetime, modes: Modes, pin: str
) -> None:
    cred = replace(cred, status="revoked")
    decision = decide(state(policy, target, cred, modes=modes), card(pin=pin), now)
    if modes.emergency and policy.targets[target].released_in_emergency:
        assert decision.reason == "emergency"  # life safety: the door is released for all
    else:
        assert not decision.granted and decision.reason == "revoked"


@settings(max_examples=300)
@given(credentials, targets, instants, pins)
def test_lockdown_never_grants_a_non_security_role(
    policy: SitePolicy, cred: CredentialView, target: str, now: datetime, pin: str
) -> None:
    s = state(policy, target, cred, modes=Modes(lockdown=True))
    decision = decide(s, card(pin=pin), now)
    if cred.person.role not in policy.security_roles:
        assert not decision.granted
    if decision.granted:
        assert cred.person.role == "guard"


@settings(max_examples=300)
@given(st.none() | credentials, instants, st.booleans(), pins)
def test_emergency_always_releases_egress_and_opens_gates(
    policy: SitePolicy, cred: CredentialView | None, now: datetime, lockdown: bool, pin: str
) -> None:
    modes = Modes(lockdown=lockdown, emergency=True)
    exit_door = decide(state(policy, "door-exit", cred, modes=modes), card(pin=pin), now)
    gate = decide(state(policy, "gate-main", cred, modes=modes), card(pin=pin), now)
    assert exit_door.granted and HoldRelay(target="door-exit", on=True) in exit_door.effects
    assert gate.granted and OpenGate(target="gate-main") in gate.effects


@settings(max_examples=300)
@given(
    st.integers(0, 5),
    st.integers(0, 8),
    instants,
    st.timedeltas(timedelta(hours=-48), timedelta(hours=48)),
    st.sampled_from(["gate-main", "door-lobby"]),
)
def test_visitor_pass_never_grants_after_expiry_or_n_uses(
    policy: SitePolicy, max_uses: int, uses: int, start: datetime, offset: timedelta, target: str
) -> None:
    until = start + timedelta(hours=4)
    cred = CredentialView(7, "visitor", "active", Person("visitor:1", role="visitor"), start, until)
    vp = VisitorPass("host-1", max_uses, uses, frozenset({"gate-main"}))
    now = start + offset
    decision = decide(state(policy, target, cred, visitor_pass=vp, levels=()), card(), now)
    if decision.granted:
        assert start <= now < until
        assert max_uses == 0 or uses < max_uses
        assert target == "gate-main"
    elif start <= now < until and target == "gate-main":
        assert decision.reason == "visitor_uses_exhausted"


def test_reasons_for_credential_state(policy: SitePolicy) -> None:
    person = Person("p1")
    active = CredentialView(1, "card", "active", person)
    cases = {
        "unknown_credential": None,
        "suspended": replace(active, status="suspended"),
        "revoked": replace(active, status="revoked"),
        "not_yet_valid": replace(active, valid_from=T0 + timedelta(seconds=1)),
        "expired": replace(active, valid_until=T0),
    }
    for reason, cred in cases.items():
        decision = decide(state(policy, "door-lobby", cred), card(), T0)
        assert (decision.granted, decision.reason) == (False, reason)
    edge = decide(state(policy, "door-lobby", replace(active, valid_from=T0)), card(), T0)
    assert edge.granted and PulseRelay(target="door-lobby", seconds=4.0) in edge.effects


def test_card_plus_pin_and_duress_pin(policy: SitePolicy) -> None:
    cred = CredentialView(
        1, "card_pin", "active", Person("p1"), None, None, pin_digest("1234"), pin_digest("9999")
    )
    s = state(policy, "door-lobby", cred)
    assert decide(s, card(), T0).reason == "pin_required"
    assert decide(s, card(pin="1111"), T0).reason == "pin_wrong"
    ok = decide(s, card(pin="1234"), T0)
    assert ok.granted and not any(isinstance(e, AccessAlarm) for e in ok.effects)
    duress = decide(s, card(pin="9999"), T0)
    alarms = [e for e in duress.effects if isinstance(e, AccessAlarm)]
    assert duress.granted and duress.reason == "granted"  # nothing different at the door
    assert [(a.alarm, a.silent) for a in alarms] == [("duress", True)]


def test_wrong_door_and_extended_access_time(policy: SitePolicy) -> None:
    cred = CredentialView(1, "card", "active", Person("p1", extended_s=6.0))
    lobby_only = (Level("lobby", ALWAYS, frozenset({"door-lobby"})),)
    assert decide(state(policy, "gate-main", cred, levels=lobby_only), card(), T0).reason == (
        "wrong_door"
    )
    granted = decide(state(policy, "door-lobby", cred, levels=lobby_only), card(), T0)
    assert PulseRelay(target="door-lobby", seconds=10.0) in granted.effects


def test_arrival_goes_to_the_butler_only_for_opted_in_gate_entries(policy: SitePolicy) -> None:
    resident = Person("p1", "Li Wei", butler_id="butler-7", notify_arrival=True)
    cred = CredentialView(1, "card", "active", resident)
    entry = decide(state(policy, "gate-main", cred), card(), T0)
    arrivals = [e for e in entry.effects if isinstance(e, Arrival)]
    assert [(a.butler_id, a.person_name, a.gate) for a in arrivals] == [
        ("butler-7", "Li Wei", "gate-main")
    ]
    door = decide(state(policy, "door-lobby", cred), card(), T0)
    quiet = replace(cred, person=replace(resident, notify_arrival=False))
    not_opted = decide(state(policy, "gate-main", quiet), card(), T0)
    for d in (door, not_opted):
        assert not any(isinstance(e, Arrival) for e in d.effects)


def test_area_antipassback_hard_denies_a_second_entry(policy: SitePolicy) -> None:
    cred = CredentialView(1, "card", "active", Person("p1"))
    first = decide(state(policy, "gate-main", cred), card(), T0)
    assert first.granted and first.updates  # the move into the compound is to be stored
    inside = Position("in", T0)
    again = decide(state(policy, "gate-main", cred, position=inside), card(), T0)
    assert (again.granted, again.reason) == (False, "antipassback")
    out = Position("out", T0)
    assert decide(state(policy, "gate-main", cred, position=out), card(), T0).granted


def test_degraded_policies(tmp_path: Path) -> None:
    def site(policy_name: str) -> SitePolicy:
        d = tmp_path / policy_name
        d.mkdir()
        cfg = access_site(
            d,
            max_offline_days=1,
            degraded_policy=policy_name,
            degraded_facility_codes=[10],
        )
        return SitePolicy.from_config(cfg)

    stale, fresh = T0 - timedelta(days=2), T0 - timedelta(hours=1)
    resident = CredentialView(1, "card", "active", Person("p1"))
    staff = CredentialView(2, "card", "active", Person("s1", role="staff"))
    strict = site("deny_all_but_staff")
    assert decide(state(strict, "door-lobby", resident, last_sync=stale), card(), T0).reason == (
        "degraded_mode"
    )
    assert decide(state(strict, "door-lobby", staff, last_sync=stale), card(), T0).granted
    assert decide(state(strict, "door-lobby", resident, last_sync=fresh), card(), T0).granted
    fc = site("facility_code_only")
    unknown = decide(state(fc, "door-lobby", None, last_sync=stale), card(), T0)
    assert (unknown.granted, unknown.reason) == (True, "degraded_facility_code")
    revoked = replace(resident, status="revoked")
    assert decide(state(fc, "door-lobby", revoked, last_sync=stale), card(), T0).reason == (
        "revoked"
    )
    other = CredentialPresented(source="r", at=T0, format="h10301", facility=11, number=1, bits=26)
    assert decide(state(fc, "door-lobby", None, last_sync=stale), other, T0).reason == (
        "unknown_credential"
    )
