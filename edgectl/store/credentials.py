"""People, credentials and access levels: the store behind the access rules.

``AccessIndex`` answers ``state_for(event, reader)`` with a few indexed SQLite reads (the
credential joined to its person and visitor pass, the person's levels and groups, and the
anti-passback position where the door uses it). Only the small, site-sized data is held in
memory: access levels, group -> levels, modes and the last sync time. So a cold start costs
the same at one million credentials as at one thousand, and the credentials are never out
of step with the DB.

Every mutation goes through this module and bumps ``kv['access.rev']`` in the same
transaction; an index sees a changed revision (from the CLI, or another process) on its
next decision and reloads its in-memory part.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from edgectl.config import ROLES, Config, Reader
from edgectl.domain import Command, CredentialPresented
from edgectl.store import pinkeys
from rules import modes
from rules.access import (
    CARD_KINDS,
    KINDS,
    STATUSES,
    AccessState,
    AreaMove,
    CredentialView,
    Decision,
    Level,
    Modes,
    PassUse,
    Person,
    Position,
    TargetPass,
    VisitorPass,
    pin_candidates,
    pin_digest,
)
from rules.policy import SitePolicy

log = structlog.get_logger(__name__)

REV, LOCKDOWN, EMERGENCY, LAST_SYNC = (
    "access.rev",
    "access.lockdown",
    "access.emergency",
    "access.last_sync",
)


class CredentialError(ValueError):
    """A credential, person, level or pass cannot be stored as asked; says why."""


# --- field checks shared by the index and the CSV import --------------------------------


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
        if self.kind == "pin":
            return "pin"
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
        if number is None or not 0 <= number < 2**40:
            raise ValueError(f"number: expected a card number, got {number!r}")
        if facility is not None and not 0 <= facility < 2**20:
            raise ValueError(f"facility: expected a facility code, got {facility!r}")
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
        secret = code
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


def _first(
    q: Callable[..., sqlite3.Cursor], sql: str, args: Iterable[tuple[object, ...]]
) -> sqlite3.Row | None:
    """The first row ``sql`` finds for any of ``args``, in order."""
    for a in args:
        if (row := q(sql, a).fetchone()) is not None:
            return row  # type: ignore[no-any-return]
    return None


_KEYED = re.compile(r"h1:[0-9a-f]{16}:[0-9a-f]{64}")

INSERT_CREDENTIAL = (
    "INSERT INTO credentials (kind, format, facility, number, secret, pin, duress, status, "
    "valid_from, valid_until, person_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def bump_revision(conn: sqlite3.Connection) -> None:
    """Tell every index that access data changed (call inside the changing transaction)."""
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (REV,),
    )


# --- the index ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedPass:
    code: str
    person_id: str
    credential_id: int
    valid_until: datetime


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


_SELECT = (
    "SELECT c.id, c.kind, c.status, c.valid_from, c.valid_until, c.pin, c.duress, "
    "p.id, p.name, p.role, p.butler_id, p.notify_arrival, p.extended_access, "
    "v.host_id, v.max_uses, v.uses, v.targets "
    "FROM credentials c JOIN people p ON p.id = c.person_id "
    "LEFT JOIN visitor_passes v ON v.credential_id = c.id "
)
_BY_CARD = _SELECT + "WHERE c.number = ? AND c.facility IS ? AND c.kind IN ('card', 'card_pin')"
_BY_SECRET = _SELECT + "WHERE c.secret = ? AND c.kind = ?"
_BY_DURESS = _SELECT + "WHERE c.duress = ? AND c.kind = 'pin'"
_LEVELS = (
    "SELECT 0, level_id FROM person_levels WHERE person_id = ? "
    "UNION ALL SELECT 1, group_id FROM person_groups WHERE person_id = ?"
)


class AccessIndex:
    """Lookups for the access path, and every change to people, credentials and modes."""

    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self.conn = conn
        self.config = config
        self.policy = SitePolicy.from_config(config)
        self._rev: str | None = None
        self._levels: dict[str, Level] = {}
        self._groups: dict[str, tuple[str, ...]] = {}
        self.modes = Modes()
        self.last_sync: datetime | None = None
        self._pin_timeout = timedelta(seconds=config.access.pin_timeout_s)
        self._awaiting_pin: dict[str, tuple[CredentialView, datetime]] = {}
        self.pin_keys: tuple[bytes, ...] = ()

    @classmethod
    def load(cls, conn: sqlite3.Connection, config: Config) -> AccessIndex:
        """Load the site-sized part (levels, groups, modes); credentials stay in SQLite."""
        index = cls(conn, config)
        index._refresh()
        return index

    # --- keeping the in-memory part in step ---------------------------------------

    def _refresh(self) -> None:
        row = self.conn.execute("SELECT value FROM kv WHERE key = ?", (REV,)).fetchone()
        rev = row[0] if row else "0"
        if rev == self._rev:
            return
        targets: dict[str, set[str]] = {}
        for level_id, target in self.conn.execute(
            "SELECT level_id, target FROM access_level_targets"
        ):
            targets.setdefault(level_id, set()).add(target)
        levels = {}
        for level_id, schedule in self.conn.execute("SELECT id, schedule FROM access_levels"):
            if schedule not in self.policy.plans:
                log.error("access_level_unknown_schedule", level=level_id, schedule=schedule)
            plan = self.policy.plan(schedule)
            levels[level_id] = Level(level_id, plan, frozenset(targets.get(level_id, ())))
        groups: dict[str, list[str]] = {}
        for group_id, level_id in self.conn.execute("SELECT group_id, level_id FROM group_levels"):
            groups.setdefault(group_id, []).append(level_id)
        kv = dict(
            self.conn.execute(
                "SELECT key, value FROM kv WHERE key IN (?, ?, ?)", (LOCKDOWN, EMERGENCY, LAST_SYNC)
            ).fetchall()
        )
        self._levels = levels
        self._groups = {g: tuple(ls) for g, ls in groups.items()}
        self.modes = Modes(kv.get(LOCKDOWN) == "1", kv.get(EMERGENCY) == "1")
        self.last_sync = _dt(kv.get(LAST_SYNC))
        try:
            self.pin_keys = pinkeys.read_keys(pinkeys.keyring_for(self.conn))
        except (OSError, ValueError) as exc:
            log.error("pin_keyring_unreadable", error=str(exc))
        self._rev = rev

    def pin_key(self) -> bytes:
        """The key a PIN enrolled now is digested with (made on first use)."""
        key = pinkeys.current_key(pinkeys.keyring_for(self.conn))
        if key not in self.pin_keys:
            self.pin_keys = (*self.pin_keys, key)
        return key

    @contextmanager
    def _write(self, *, cached: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction. A change to ``cached`` data (levels, groups, modes, sync time)
        also bumps the revision, and the in-memory part reloads after it."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            if cached:
                bump_revision(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if cached:
            self._refresh()

    # --- the access path ----------------------------------------------------------

    def state_for(self, event: CredentialPresented, reader: Reader) -> AccessState:
        self._refresh()
        target = self.policy.targets[reader.target]
        levels: tuple[Level, ...] = ()
        position = last_pass = None
        visitor = None
        view = found = None
        if found_row := self._card_awaiting_pin(event, reader) or self._credential(event):
            view, found = found_row
            if view.kind == "card_pin" and not event.pin:
                self._awaiting_pin[reader.id] = (view, event.at + self._pin_timeout)
            if view.kind == "visitor" and found is not None:
                visitor = found
            else:
                levels = self._person_levels(view.person.id)
            if target.antipassback != "off" or target.area_antipassback != "off":
                position, last_pass = self._antipassback(view.person.id, target.id, target.area)
        return AccessState(
            policy=self.policy,
            reader=reader.id,
            direction=reader.direction,
            target=target,
            credential=view,
            levels=levels,
            visitor_pass=visitor,
            position=position,
            last_pass=last_pass,
            modes=self.modes,
            last_sync=self.last_sync,
            pin_keys=self.pin_keys,
        )

    def _card_awaiting_pin(
        self, event: CredentialPresented, reader: Reader
    ) -> tuple[CredentialView, None] | None:
        """A keypad entry soon after a card+PIN card at the same reader is that card's PIN."""
        awaiting = self._awaiting_pin.pop(reader.id, None)
        if awaiting is None or event.format != "pin" or event.at >= awaiting[1]:
            return None
        return awaiting[0], None

    def _credential(
        self, event: CredentialPresented
    ) -> tuple[CredentialView, VisitorPass | None] | None:
        q = self.conn.execute
        duress = False
        if event.plate:
            row = q(_BY_SECRET, (normalize_plate(event.plate), "plate")).fetchone()
        elif event.format == "pin":
            digits = event.pin or str(event.number)
            digests = pin_candidates(digits, self.pin_keys)
            row = _first(q, _BY_SECRET, [(d, "pin") for d in digests])
            if row is None:
                row = _first(q, _BY_DURESS, [(d,) for d in digests])
                duress = row is not None
            if row is None:
                row = q(_BY_SECRET, (digits, "visitor")).fetchone()
        elif event.format in ("code", "qr"):
            row = q(_BY_SECRET, (event.pin or str(event.number), "visitor")).fetchone()
        else:
            row = q(_BY_CARD, (event.number, event.facility)).fetchone()
        if row is None:
            return None
        person = Person(row[7], row[8], row[9], row[10], bool(row[11]), float(row[12]))
        view = CredentialView(
            id=row[0],
            kind=row[1],
            status=row[2],
            person=person,
            valid_from=_dt(row[3]),
            valid_until=_dt(row[4]),
            pin_digest=row[5],
            duress_digest=row[6],
            matched_duress=duress,
        )
        visitor = None
        if row[13] is not None:
            visitor = VisitorPass(row[13], row[14], row[15], frozenset(row[16].split(",")))
        return view, visitor

    def _person_levels(self, person_id: str) -> tuple[Level, ...]:
        ids: list[str] = []
        for is_group, ref in self.conn.execute(_LEVELS, (person_id, person_id)):
            ids.extend(self._groups.get(ref, ()) if is_group else (ref,))
        return tuple(self._levels[i] for i in dict.fromkeys(ids) if i in self._levels)

    def _antipassback(
        self, person_id: str, target: str, area: str
    ) -> tuple[Position | None, datetime | None]:
        position = last_pass = None
        for scope, state, at in self.conn.execute(
            "SELECT scope, state, at FROM antipassback WHERE person_id = ? AND scope IN (?, ?)",
            (person_id, f"area:{area}", f"target:{target}"),
        ):
            if scope.startswith("area:"):
                position = Position(state, datetime.fromisoformat(at))
            else:
                last_pass = datetime.fromisoformat(at)
        return position, last_pass

    def commit(self, decision: Decision) -> None:
        """Make a decision's state changes durable (anti-passback position, pass uses)."""
        if not decision.updates:
            return
        with self._write():
            for u in decision.updates:
                if isinstance(u, AreaMove | TargetPass):
                    scope, state = (
                        (f"area:{u.area}", u.state)
                        if isinstance(u, AreaMove)
                        else (f"target:{u.target}", "passed")
                    )
                    self.conn.execute(
                        "INSERT OR REPLACE INTO antipassback VALUES (?, ?, ?, ?)",
                        (u.person_id, scope, state, u.at.isoformat()),
                    )
                elif isinstance(u, PassUse):
                    self.conn.execute(
                        "UPDATE visitor_passes SET uses = uses + 1 WHERE credential_id = ?",
                        (u.credential_id,),
                    )

    # --- people ---------------------------------------------------------------------

    def upsert_person(
        self,
        person_id: str,
        *,
        name: str = "",
        role: str = "resident",
        butler_id: str | None = None,
        notify_arrival: bool = False,
        extended_access_s: int = 0,
    ) -> None:
        """Add a person or replace their details."""
        if not person_id:
            raise CredentialError("person id: expected a non-empty id")
        if role not in ROLES:
            raise CredentialError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        with self._write() as c:
            c.execute(
                "INSERT INTO people (id, name, role, butler_id, notify_arrival, extended_access) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                "role = excluded.role, butler_id = excluded.butler_id, "
                "notify_arrival = excluded.notify_arrival, "
                "extended_access = excluded.extended_access",
                (person_id, name, role, butler_id, int(notify_arrival), extended_access_s),
            )

    def _require_person(self, person_id: str) -> None:
        if not self.conn.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone():
            raise CredentialError(f"no person {person_id!r}")

    # --- credentials ----------------------------------------------------------------

    def add_credential(
        self, person_id: str, values: CredentialValues, *, now: datetime | None = None
    ) -> int:
        """Store a checked credential for an existing person; return its id."""
        self._require_person(person_id)
        try:
            with self._write() as c:
                cur = c.execute(INSERT_CREDENTIAL, (*_columns(values), person_id, _stamp(now)))
        except sqlite3.IntegrityError:
            raise CredentialError(f"{values.label()} is already registered") from None
        return int(cur.lastrowid or 0)

    def add_card(
        self,
        person_id: str,
        facility: int | None,
        number: int,
        targets: tuple[str, ...] = ("*",),
        name: str = "",
        role: str = "resident",
        fmt: str = "h10301",
    ) -> int:
        """Shortcut: a person (if new) with a personal level on ``targets`` and one card."""
        if not self.conn.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone():
            self.upsert_person(person_id, name=name, role=role)
        level = "all" if targets == ("*",) else f"person:{person_id}"
        if level not in self._levels or level != "all":
            self.define_level(level, targets)
        self.grant_level(person_id, level)
        values = credential_values("card", format=fmt, facility=facility, number=number)
        return self.add_credential(person_id, values)

    def set_credential_status(
        self, credential_id: int, status: str, *, now: datetime | None = None
    ) -> bool:
        if status not in STATUSES:
            raise CredentialError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        with self._write() as c:
            cur = c.execute(
                "UPDATE credentials SET status = ?, updated_at = ? WHERE id = ?",
                (status, _stamp(now), credential_id),
            )
        return cur.rowcount > 0

    def find_card(self, facility: int | None, number: int) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM credentials WHERE number = ? AND facility IS ? "
            "AND kind IN ('card', 'card_pin')",
            (number, facility),
        ).fetchone()
        return int(row[0]) if row else None

    def set_status(self, facility: int | None, number: int, status: str) -> bool:
        """Suspend, revoke or reactivate the card ``facility:number``."""
        found = self.find_card(facility, number)
        return found is not None and self.set_credential_status(found, status)

    def set_validity(
        self,
        credential_id: int,
        valid_from: datetime | None,
        valid_until: datetime | None,
        *,
        now: datetime | None = None,
    ) -> bool:
        if valid_from and valid_until and valid_until <= valid_from:
            raise CredentialError("valid_until: the validity window ends before it starts")
        with self._write() as c:
            cur = c.execute(
                "UPDATE credentials SET valid_from = ?, valid_until = ?, updated_at = ? "
                "WHERE id = ?",
                (_iso(valid_from), _iso(valid_until), _stamp(now), credential_id),
            )
        return cur.rowcount > 0

    def revoke_person(self, person_id: str, *, now: datetime | None = None) -> int:
        """Move-out: revoke every credential a person holds, and every visitor pass they
        host (a departed host's guests must not keep getting in); return how many."""
        with self._write() as c:
            cur = c.execute(
                "UPDATE credentials SET status = 'revoked', updated_at = ? "
                "WHERE status != 'revoked' AND (person_id = ? OR id IN "
                "(SELECT credential_id FROM visitor_passes WHERE host_id = ?))",
                (_stamp(now), person_id, person_id),
            )
        return cur.rowcount

    # --- levels and groups ----------------------------------------------------------

    def define_level(
        self, level_id: str, targets: Iterable[str], schedule: str = "always", name: str = ""
    ) -> None:
        """Create or replace an access level: doors/gates (``"*"``: all) and a schedule."""
        if schedule not in self.policy.plans:
            known = ", ".join(sorted(self.policy.plans))
            raise CredentialError(f"schedule: unknown schedule {schedule!r}; known: {known}")
        targets = tuple(dict.fromkeys(targets))
        unknown = [t for t in targets if t != "*" and t not in self.policy.targets]
        if unknown:
            raise CredentialError(f"targets: no door or gate {', '.join(unknown)}")
        with self._write(cached=True) as c:
            c.execute(
                "INSERT INTO access_levels (id, name, schedule) VALUES (?, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET name = excluded.name, schedule = excluded.schedule",
                (level_id, name, schedule),
            )
            c.execute("DELETE FROM access_level_targets WHERE level_id = ?", (level_id,))
            c.executemany(
                "INSERT INTO access_level_targets VALUES (?, ?)", [(level_id, t) for t in targets]
            )

    def grant_level(self, person_id: str, level_id: str) -> None:
        self._require_person(person_id)
        if level_id not in self._levels:
            raise CredentialError(f"no access level {level_id!r}")
        with self._write() as c:
            c.execute("INSERT OR IGNORE INTO person_levels VALUES (?, ?)", (person_id, level_id))

    def remove_level(self, person_id: str, level_id: str) -> None:
        with self._write() as c:
            c.execute(
                "DELETE FROM person_levels WHERE person_id = ? AND level_id = ?",
                (person_id, level_id),
            )

    def define_group(self, group_id: str, level_ids: Iterable[str], name: str = "") -> None:
        """Create or replace a group and the levels its members get."""
        level_ids = tuple(dict.fromkeys(level_ids))
        missing = [lv for lv in level_ids if lv not in self._levels]
        if missing:
            raise CredentialError(f"levels: no access level {', '.join(missing)}")
        with self._write(cached=True) as c:
            c.execute(
                "INSERT INTO groups (id, name) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                (group_id, name),
            )
            c.execute("DELETE FROM group_levels WHERE group_id = ?", (group_id,))
            c.executemany(
                "INSERT INTO group_levels VALUES (?, ?)", [(group_id, lv) for lv in level_ids]
            )

    def join_group(self, person_id: str, group_id: str) -> None:
        self._require_person(person_id)
        if (
            group_id not in self._groups
            and not self.conn.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone()
        ):
            raise CredentialError(f"no group {group_id!r}")
        with self._write() as c:
            c.execute("INSERT OR IGNORE INTO person_groups VALUES (?, ?)", (person_id, group_id))

    # --- visitor passes ---------------------------------------------------------------

    def issue_visitor_pass(
        self,
        visitor_name: str,
        host_id: str,
        until: datetime,
        targets: Iterable[str],
        *,
        uses: int = 1,
        now: datetime | None = None,
    ) -> IssuedPass:
        """Register a visitor and hand back a pass code, in one call.

        The pass is valid from ``now`` until ``until`` at ``targets`` (gate and door ids),
        for ``uses`` grants (0: unlimited), and is tied to the host resident ``host_id``.
        """
        now = _now(now)
        targets = tuple(dict.fromkeys(targets))
        unknown = [t for t in targets if t not in self.policy.targets]
        if not targets or unknown:
            raise CredentialError(f"targets: expected gate or door ids, unknown: {unknown}")
        if until <= now:
            raise CredentialError("until: the pass would expire before it starts")
        if uses < 0:
            raise CredentialError("uses: expected 0 (unlimited) or more")
        host = self.conn.execute("SELECT role FROM people WHERE id = ?", (host_id,)).fetchone()
        if host is None or host[0] != "resident":
            raise CredentialError(f"host: no resident {host_id!r}")
        digits = self.config.access.visitor_code_digits
        for _ in range(20):
            code = f"{secrets.randbelow(10**digits):0{digits}d}"
            if not self.conn.execute(
                "SELECT 1 FROM credentials WHERE secret = ? AND kind = 'visitor'", (code,)
            ).fetchone():
                break
        else:
            raise CredentialError("no free visitor code; raise access.visitor_code_digits")
        person_id = f"visitor:{code}"
        values = credential_values("visitor", code=code, valid_from=now, valid_until=until)
        with self._write() as c:
            c.execute(
                "INSERT INTO people (id, name, role) VALUES (?, ?, 'visitor')",
                (person_id, visitor_name),
            )
            cur = c.execute(INSERT_CREDENTIAL, (*_columns(values), person_id, now.isoformat()))
            cred_id = int(cur.lastrowid or 0)
            c.execute(
                "INSERT INTO visitor_passes VALUES (?, ?, ?, 0, ?)",
                (cred_id, host_id, uses, ",".join(targets)),
            )
        return IssuedPass(code, person_id, cred_id, until)

    def revoke_visitor_pass(self, code: str, *, now: datetime | None = None) -> bool:
        with self._write() as c:
            cur = c.execute(
                "UPDATE credentials SET status = 'revoked', updated_at = ? "
                "WHERE secret = ? AND kind = 'visitor'",
                (_stamp(now), code),
            )
        return cur.rowcount > 0

    # --- anti-passback, modes, sync ---------------------------------------------------

    def forgive(self, person_id: str) -> int:
        """Operator forgive: forget where anti-passback last saw a person."""
        with self._write() as c:
            cur = c.execute("DELETE FROM antipassback WHERE person_id = ?", (person_id,))
        return cur.rowcount

    def _set_flag(self, key: str, on: bool) -> None:
        with self._write(cached=True) as c:
            c.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, "1" if on else "0")
            )

    def set_lockdown(self, on: bool) -> tuple[Command, ...]:
        """Enter or leave lockdown; returns the commands to carry out (relock doors)."""
        self._set_flag(LOCKDOWN, on)
        return modes.lockdown_effects(self.policy, on)

    def set_emergency(self, on: bool) -> tuple[Command, ...]:
        """Enter or leave emergency; returns the commands (open gates, release doors)."""
        self._set_flag(EMERGENCY, on)
        return modes.emergency_effects(self.policy, on)

    def record_sync(self, at: datetime) -> None:
        """The hub sync succeeded at ``at``: credential data is fresh (ends degraded mode)."""
        with self._write(cached=True) as c:
            c.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)",
                (LAST_SYNC, at.astimezone(UTC).isoformat()),
            )


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when else None


def _stamp(now: datetime | None) -> str:
    return _now(now).astimezone(UTC).isoformat()


def _columns(v: CredentialValues) -> tuple[object, ...]:
    return (
        v.kind,
        v.format,
        v.facility,
        v.number,
        v.secret,
        v.pin,
        v.duress,
        v.status,
        v.valid_from,
        v.valid_until,
    )
