"""Access decisions (minimal spine version; the full policy lands with the rules issue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edgectl.domain import Command, CredentialPresented, Event, OpenGate, PulseRelay, ReaderFeedback


@dataclass(frozen=True, slots=True)
class CredentialView:
    id: int
    person_id: str
    status: str
    valid_from: datetime | None
    valid_until: datetime | None
    targets: frozenset[str]


@dataclass(frozen=True, slots=True)
class AccessState:
    reader: str
    target: str
    target_kind: str  # "gate" or "door"
    unlock_s: float
    credential: CredentialView | None


@dataclass(frozen=True, slots=True)
class Decision:
    granted: bool
    reason: str
    effects: tuple[Command | Event, ...] = ()
    person_id: str | None = None


def _deny(state: AccessState, reason: str) -> Decision:
    person = state.credential.person_id if state.credential else None
    return Decision(False, reason, (ReaderFeedback(target=state.reader, granted=False),), person)


def decide(state: AccessState, event: CredentialPresented, now: datetime) -> Decision:
    cred = state.credential
    if cred is None:
        return _deny(state, "unknown_credential")
    if cred.status != "active":
        return _deny(state, cred.status)
    if cred.valid_from and now < cred.valid_from:
        return _deny(state, "not_yet_valid")
    if cred.valid_until and now >= cred.valid_until:
        return _deny(state, "expired")
    if state.target not in cred.targets and "*" not in cred.targets:
        return _deny(state, "wrong_door")
    actuate: Command = (
        OpenGate(target=state.target)
        if state.target_kind == "gate"
        else PulseRelay(target=state.target, seconds=state.unlock_s)
    )
    return Decision(
        True,
        "granted",
        (actuate, ReaderFeedback(target=state.reader, granted=True)),
        cred.person_id,
    )
