"""Credential values: the checks and the stored form shared by the site service, the CSV
import and the hub pull.

The reads that decide access live in ``access_index.py``; every change goes through the
site service (``edgectl/site/service.py``), which bumps ``kv['access.rev']`` in the same
transaction when cached data (levels, groups, modes) changes.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from drivers.wiegand import codec
from edgectl.store.cardnum import stored
from rules.access import CARD_KINDS, KINDS, STATUSES, pin_digest

REV, LOCKDOWN, EMERGENCY, LAST_SYNC = (
    "access.rev",
    "access.lockdown",
    "access.emergency",
    "access.last_sync",
)
EFFECTS_APPLIED = "access.effects_applied"  # the last decision-effects batch persisted


class CredentialError(ValueError):
    """A credential, person, level or pass cannot be stored as asked; says why."""


# --- field checks shared by the service, the CSV import and the hub pull ----------------


def parse_when(text: str, zone: ZoneInfo) -> datetime:
    """A date *and* time; without an offset it is site local time. Returns UTC."""
    text = text.strip()
    if len(text) <= 10:
        raise ValueError(f"expected a date and time such as 2026-05-01T08:00, got {text!r}")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected an ISO date and time, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)


def normalize_plate(plate: str) -> str:
    """Plates compare without spaces, dots or dashes, case-insensitively."""
    return "".join(ch for ch in plate.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class CredentialValues:
    """A checked credential, in the form the ``credentials`` table stores."""

    kind: str
    format: str
    facility: int | None
    number: int | None
    secret: str | None  # the lookup key of pin (digest), plate and visitor credentials
    pin: str | None  # card_pin: PIN digest
    duress: str | None  # duress PIN digest
    status: str
    valid_from: str | None
    valid_until: str | None

    def label(self) -> str:
        """How errors name the credential (never a PIN digest)."""
        if self.kind in ("pin", "visitor"):
            return self.kind  # never the code or a digest
        if self.kind not in CARD_KINDS:
            return f"{self.kind} {self.secret}"
        card = self.number if self.facility is None else f"{self.facility}:{self.number}"
        return f"card {card}"


def credential_values(
    kind: str = "card",
    *,
    format: str = "h10301",
    facility: int | None = None,
    number: int | None = None,
    pin: str | None = None,
    duress_pin: str | None = None,
    plate: str | None = None,
    code: str | None = None,
    status: str = "active",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    key: bytes | None = None,
    pin_keyed: str | None = None,
    duress_keyed: str | None = None,
) -> CredentialValues:
    """Check a credential's fields; raise ValueError naming the field and the problem.

    A PIN given in clear is stored as its digest under ``key`` (the site's current PIN key,
    ``pinkeys.current_key``); a credential pulled from the hub brings its keyed digests
    (``pin_keyed``, ``duress_keyed``) instead. A PIN is never stored unkeyed any more.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if status not in STATUSES:
        raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    for name, when in (("valid_from", valid_from), ("valid_until", valid_until)):
        if when is not None and when.tzinfo is None:
            raise ValueError(f"{name}: expected a timezone-aware time")
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValueError("valid_until: the validity window ends before it starts")
    secret = pin_hash = duress = None
    if kind in CARD_KINDS:
        _check_card_fields(format, facility, number)
    else:
        facility = number = None
    if kind in ("card_pin", "pin"):
        digest, duress = _pin_digests(pin, duress_pin, key, pin_keyed, duress_keyed)
        if kind == "pin":
            secret = digest
        else:
            pin_hash = digest
    if kind == "plate":
        secret = normalize_plate(plate or "")
        if not 2 <= len(secret) <= 16:
            raise ValueError(f"plate: expected a vehicle plate, got {plate!r}")
    if kind == "visitor":
        if not code or not code.isdigit():
            raise ValueError("code: expected a numeric visitor code")
        secret = pin_digest(code, key)  # a visitor code is kept like a PIN, never in clear
    return CredentialValues(
        kind,
        format if kind in CARD_KINDS else kind,
        facility,
        number,
        secret,
        pin_hash,
        duress,
        status,
        valid_from.astimezone(UTC).isoformat() if valid_from else None,
        valid_until.astimezone(UTC).isoformat() if valid_until else None,
    )


def _check_card_fields(fmt: str, facility: int | None, number: int | None) -> None:
    """The format exists and the facility and number fit its fields' widths."""
    try:
        facility_bits, number_bits = codec.field_widths(fmt)
    except KeyError as exc:
        raise ValueError(f"format: {exc.args[0]}") from None
    if number is None or not 0 <= number < 1 << number_bits:
        raise ValueError(
            f"number: expected 0 to {(1 << number_bits) - 1} ({number_bits} bits of {fmt}), "
            f"got {number!r}"
        )
    if facility is None:
        return
    if facility_bits is None:
        raise ValueError(f"facility: format {fmt} has no facility code, got {facility}")
    if not 0 <= facility < 1 << facility_bits:
        raise ValueError(
            f"facility: expected 0 to {(1 << facility_bits) - 1} ({facility_bits} bits of "
            f"{fmt}), got {facility}"
        )


def credential_row(v: CredentialValues) -> tuple[object, ...]:
    """``v``'s columns in ``credentials`` order up to valid_until, the number as stored."""
    number = None if v.number is None else stored(v.number)
    head = (v.kind, v.format, v.facility, number, v.secret, v.pin, v.duress, v.status)
    return (*head, v.valid_from, v.valid_until)


def _pin_digests(
    pin: str | None,
    duress_pin: str | None,
    key: bytes | None,
    pin_keyed: str | None,
    duress_keyed: str | None,
) -> tuple[str, str | None]:
    """The stored digests of a PIN and its duress PIN, checked."""
    if pin_keyed is not None:
        for name, value in (("pin_digest", pin_keyed), ("duress_digest", duress_keyed)):
            if value is not None and not _KEYED.fullmatch(value):
                raise ValueError(f"{name}: expected h1:<16 hex>:<64 hex>, got {value!r:.30}")
        if duress_keyed == pin_keyed:
            raise ValueError("duress_digest: must differ from pin_digest")
        return pin_keyed, duress_keyed
    if not pin or not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise ValueError("pin: expected 4 to 12 digits")
    if key is None:
        raise ValueError("pin: no PIN key to digest it with")
    if duress_pin is not None and (not duress_pin.isdigit() or duress_pin == pin):
        raise ValueError("duress_pin: expected digits different from the PIN")
    return pin_digest(pin, key), pin_digest(duress_pin, key) if duress_pin else None


_KEYED = re.compile(r"h1:[0-9a-f]{16}:[0-9a-f]{64}")

CREDENTIAL_COLUMNS = (
    "kind, format, facility, number, secret, pin, duress, status, valid_from, valid_until, "
    "person_id, updated_at"
)
INSERT_CREDENTIAL = (
    f"INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def bump_revision(conn: sqlite3.Connection) -> None:
    """Tell every index that access data changed (call inside the changing transaction)."""
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (REV,),
    )


def find_card(conn: sqlite3.Connection, facility: int | None, number: int) -> int | None:
    """The id of card ``facility:number`` (``card`` or ``card_pin``), if registered."""
    row = conn.execute(
        "SELECT id FROM credentials WHERE number = ? AND facility IS ? "
        "AND kind IN ('card', 'card_pin')",
        (stored(number), facility),
    ).fetchone()
    return int(row[0]) if row else None


def card_label(facility: int | None, number: int) -> str:
    return f"card {number}" if facility is None else f"card {facility}:{number}"
