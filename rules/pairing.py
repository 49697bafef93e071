"""Card+PIN pairing: a keypad entry soon after a card+PIN card, at the same reader, is
that card's PIN.

Pure: the caller keeps one ``AwaitingPin`` (or None) per reader and passes the time in.
A presentation at a reader always ends what that reader awaited; a ``card_pin`` card
presented without its PIN starts a new wait of ``timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.access import CredentialView


@dataclass(frozen=True, slots=True)
class AwaitingPin:
    credential: CredentialView
    deadline: datetime


def paired(awaiting: AwaitingPin | None, keypad: bool, at: datetime) -> CredentialView | None:
    """The card a presentation at ``at`` completes: the awaited card, if this is a keypad
    entry made before the wait's deadline; otherwise None (look the entry up on its own)."""
    if awaiting is None or not keypad or at >= awaiting.deadline:
        return None
    return awaiting.credential


def awaiting_after(
    credential: CredentialView | None, with_pin: bool, at: datetime, timeout: timedelta
) -> AwaitingPin | None:
    """What the reader awaits after a presentation of ``credential`` at ``at``."""
    if credential is None or credential.kind != "card_pin" or with_pin:
        return None
    return AwaitingPin(credential, at + timeout)
