"""Access decisions: ``decide(state, event, now) -> Decision``. Pure: no I/O, no clock.

The order of checks (first failing check gives the reason code, see docs/reason-codes.md):

1. emergency: a gate, egress door or fail-safe door is released for anyone (life safety);
2. the credential: unknown, revoked, suspended, not yet valid, expired;
3. the PIN of a card+PIN credential (a duress PIN grants and raises a silent alarm);
4. lockdown: only the site's security roles pass;
5. degraded mode (credential data older than ``max_offline_days``);
6. the visitor pass (its gates and doors, its uses) or the person's access levels
   (which doors, and whether a level's schedule is open now, holidays included);
7. anti-passback, timed at this door or by area in/out (hard denies, soft grants and alarms).

A grant carries the actuation, reader feedback, the butler's ``arrival`` notice and any
alarm as effects, and the state changes to make durable (anti-passback position, pass use)
as ``updates`` for the store to apply.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from edgectl.domain import (
    AccessAlarm,
    Arrival,
    Command,
    CredentialPresented,
    Event,
    HoldRelay,
    OpenGate,
    PulseRelay,
    ReaderFeedback,
)
from rules.policy import SitePolicy, Target
from rules.schedule import WeekPlan

CARD_KINDS = ("card", "card_pin")
KINDS = ("card", "card_pin", "pin", "plate", "visitor")
STATUSES = ("active", "suspended", "revoked")


KEYED_PIN = "h1:"  # prefix of a keyed PIN digest; a digest without it is a legacy one


def pin_key_id(key: bytes) -> str:
    """A short public name of a PIN key (which key a digest was made with; reveals nothing)."""
    return hashlib.sha256(b"edgectl-pin-key-id:" + key).hexdigest()[:16]


def pin_digest(pin: str, key: bytes | None = None) -> str:
    """How a PIN is stored and compared (never kept in clear).

    With a PIN key: ``h1:<key id>:`` + HMAC-SHA256(key, pin), what the hub and the site store.
    Without: the legacy unkeyed SHA-256 (rows enrolled before the site had keys; a table of
    every 4-6 digit PIN reverses it, so such rows are only verified until re-enrolled).
    """
    if key is not None:
        mac = hmac.new(key, pin.encode(), hashlib.sha256).hexdigest()
        return f"{KEYED_PIN}{pin_key_id(key)}:{mac}"
    return hashlib.sha256(f"edgectl-pin:{pin}".encode()).hexdigest()


def pin_candidates(pin: str, keys: tuple[bytes, ...]) -> tuple[str, ...]:
    """Every digest ``pin`` may be stored as on this site: one per key, then the legacy one."""
    return (*(pin_digest(pin, k) for k in keys), pin_digest(pin))


def pin_matches(pin: str, stored: str | None, keys: tuple[bytes, ...]) -> bool:
    """Whether ``pin`` is the PIN ``stored`` digests (by the key the digest names)."""
    if stored is None:
        return False
    if stored.startswith(KEYED_PIN):
        key = next((k for k in keys if stored.startswith(f"{KEYED_PIN}{pin_key_id(k)}:")), None)
        return key is not None and hmac.compare_digest(pin_digest(pin, key), stored)
    return hmac.compare_digest(pin_digest(pin), stored)


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str = ""
    role: str = "resident"
    butler_id: str | None = None
    notify_arrival: bool = False
    extended_s: float = 0.0  # added to a door's access time (e.g. a disabled resident)


@dataclass(frozen=True, slots=True)
class CredentialView:
    id: int
    kind: str  # card, card_pin, pin, plate, visitor
    status: str  # active, suspended, revoked
    person: Person
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    pin_digest: str | None = None  # card_pin: the PIN to match
    duress_digest: str | None = None  # card_pin: the PIN that grants and raises duress
    matched_duress: bool = False  # a PIN credential that was looked up by its duress PIN


@dataclass(frozen=True, slots=True)
class Level:
    """An access level: doors and gates (``"*"`` is all of them) and a schedule."""

    id: str
    plan: WeekPlan
    targets: frozenset[str]

    def covers(self, target: str) -> bool:
        return target in self.targets or "*" in self.targets


@dataclass(frozen=True, slots=True)
class VisitorPass:
    host_id: str
    max_uses: int  # 0: no limit within the validity window
    uses: int
    targets: frozenset[str]


@dataclass(frozen=True, slots=True)
class Position:
    """Where anti-passback last saw a person in an area: ``"in"`` or ``"out"``."""

    state: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Modes:
    lockdown: bool = False
    emergency: bool = False


@dataclass(frozen=True, slots=True)
class AccessState:
    policy: SitePolicy
    reader: str
    direction: str  # the reader's direction: in, out, none
    target: Target
    credential: CredentialView | None
    levels: tuple[Level, ...] = ()
    visitor_pass: VisitorPass | None = None
    position: Position | None = None  # the person's position in the target's area
    last_pass: datetime | None = None  # the person's last pass at this target
    modes: Modes = Modes()
    last_sync: datetime | None = None  # last successful sync with the hub; None: never
    pin_keys: tuple[bytes, ...] = ()  # the site's PIN keys (keyed PIN digests)


# --- state changes a grant asks the store to make durable -------------------------------


@dataclass(frozen=True, slots=True)
class AreaMove:
    person_id: str
    area: str
    state: str  # in, out
    at: datetime


@dataclass(frozen=True, slots=True)
class TargetPass:
    person_id: str
    target: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PassUse:
    credential_id: int


Update = AreaMove | TargetPass | PassUse


@dataclass(frozen=True, slots=True)
class Decision:
    granted: bool
    reason: str
    effects: tuple[Command | Event, ...] = ()
    person_id: str | None = None
    credential_id: int | None = None
    updates: tuple[Update, ...] = ()


def is_degraded(state: AccessState, now: datetime) -> bool:
    last = state.last_sync
    return last is not None and now - last > state.policy.max_offline


def decide(state: AccessState, event: CredentialPresented, now: datetime) -> Decision:
    target = state.target
    cred = state.credential
    if state.modes.emergency and target.released_in_emergency:
        return _emergency(state, cred)
    degraded = is_degraded(state, now)
    policy = state.policy
    if cred is None:
        if degraded and _facility_ok(policy, event):
            return _grant(state, None, now, "degraded_facility_code")
        return _deny(state, "unknown_credential")
    if cred.status != "active":
        return _deny(state, "suspended" if cred.status == "suspended" else "revoked")
    if cred.valid_from is not None and now < cred.valid_from:
        return _deny(state, "not_yet_valid")
    if cred.valid_until is not None and now >= cred.valid_until:
        return _deny(state, "expired")
    duress = cred.matched_duress
    if cred.kind == "card_pin":
        if not event.pin:  # the reader waits for the PIN: no refusal shown yet
            return replace(_deny(state, "pin_required"), effects=())
        duress = pin_matches(event.pin, cred.duress_digest, state.pin_keys)
        if not duress and not pin_matches(event.pin, cred.pin_digest, state.pin_keys):
            return _deny(state, "pin_wrong")
    role = cred.person.role
    if state.modes.lockdown and not state.modes.emergency and role not in policy.security_roles:
        return _deny(state, "lockdown")
    if degraded and policy.degraded_policy == "deny_all_but_staff":
        if role != "staff" and role not in policy.security_roles:
            return _deny(state, "degraded_mode")
    elif degraded and policy.degraded_policy == "facility_code_only":
        if cred.kind in CARD_KINDS and _facility_ok(policy, event):
            return _grant(state, cred, now, "degraded_facility_code", duress=duress)
        return _deny(state, "degraded_mode")
    refused = _pass_refusal(state) if cred.kind == "visitor" else _level_refusal(state, now)
    if refused:
        return _deny(state, refused)
    violation = _antipassback(state, now)
    if violation == "hard":
        return _deny(state, "antipassback")
    return _grant(
        state,
        cred,
        now,
        "antipassback_soft" if violation else "granted",
        duress=duress,
        soft_violation=violation is not None,
    )


def _facility_ok(policy: SitePolicy, event: CredentialPresented) -> bool:
    return event.facility is not None and event.facility in policy.degraded_facility_codes


def _pass_refusal(state: AccessState) -> str | None:
    vp = state.visitor_pass
    if vp is None:
        return "unknown_credential"
    if state.target.id not in vp.targets:
        return "wrong_door"
    if vp.max_uses and vp.uses >= vp.max_uses:
        return "visitor_uses_exhausted"
    return None


def _level_refusal(state: AccessState, now: datetime) -> str | None:
    levels = [lv for lv in state.levels if lv.covers(state.target.id)]
    if not levels:
        return "wrong_door"
    closed = [state.policy.calendar.closed_reason(lv.plan, now) for lv in levels]
    if None in closed:
        return None
    return "holiday" if "holiday" in closed else "outside_schedule"


def _antipassback(state: AccessState, now: datetime) -> str | None:
    """The mode (soft/hard) of an anti-passback violation, or None."""
    t = state.target
    if t.antipassback != "off" and state.last_pass is not None:
        if now - state.last_pass < timedelta(seconds=t.antipassback_s):
            return t.antipassback
    pos = state.position
    if t.area_antipassback != "off" and pos is not None and pos.state == state.direction:
        if not t.area_reset_s or now - pos.at < timedelta(seconds=t.area_reset_s):
            return t.area_antipassback
    return None


def _actuate(target: Target, extra_s: float) -> Command:
    if target.kind == "gate":
        return OpenGate(target=target.id)
    return PulseRelay(target=target.id, seconds=target.unlock_s + extra_s)


def _deny(state: AccessState, reason: str) -> Decision:
    cred = state.credential
    return Decision(
        False,
        reason,
        (ReaderFeedback(target=state.reader, granted=False),),
        cred.person.id if cred else None,
        cred.id if cred else None,
    )


def _emergency(state: AccessState, cred: CredentialView | None) -> Decision:
    t = state.target
    release: Command = (
        OpenGate(target=t.id) if t.kind == "gate" else HoldRelay(target=t.id, on=True)
    )
    return Decision(
        True,
        "emergency",
        (release, ReaderFeedback(target=state.reader, granted=True)),
        cred.person.id if cred else None,
        cred.id if cred else None,
    )


def _grant(
    state: AccessState,
    cred: CredentialView | None,
    now: datetime,
    reason: str,
    *,
    duress: bool = False,
    soft_violation: bool = False,
) -> Decision:
    t = state.target
    person = cred.person if cred else None
    effects: list[Command | Event] = [
        _actuate(t, person.extended_s if person else 0.0),
        ReaderFeedback(target=state.reader, granted=True),
    ]
    updates: list[Update] = []
    if person is not None:
        if duress:
            effects.append(_alarm(state, now, "duress", person.id, silent=True))
        if soft_violation:
            effects.append(_alarm(state, now, "antipassback", person.id))
        if t.kind == "gate" and state.direction != "out" and person.notify_arrival:
            if person.butler_id:
                effects.append(
                    Arrival(
                        source=state.reader,
                        at=now,
                        butler_id=person.butler_id,
                        person_id=person.id,
                        person_name=person.name,
                        gate=t.id,
                    )
                )
        if t.antipassback != "off":
            updates.append(TargetPass(person.id, t.id, now))
        if t.area_antipassback != "off" and state.direction in ("in", "out"):
            updates.append(AreaMove(person.id, t.area, state.direction, now))
    if cred is not None and cred.kind == "visitor":
        updates.append(PassUse(cred.id))
    return Decision(
        True,
        reason,
        tuple(effects),
        person.id if person else None,
        cred.id if cred else None,
        tuple(updates),
    )


def _alarm(
    state: AccessState, now: datetime, alarm: str, person_id: str, *, silent: bool = False
) -> AccessAlarm:
    return AccessAlarm(
        source=state.reader,
        at=now,
        alarm=alarm,
        target=state.target.id,
        person_id=person_id,
        silent=silent,
    )
