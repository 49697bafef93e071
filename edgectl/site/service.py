"""The site service: the one writer of people, credentials, access levels, groups, visitor
passes, modes, anti-passback forgives and work-order status.

Every method takes the ``actor`` (who, through which interface) and commits its change
together with a ``site_changed`` audit event in ONE transaction (``audit.audited``). The
audit names what changed by a label: never a PIN, a digest or a visitor code.

Methods are synchronous and use one connection: the CLI calls them directly
(``SiteService.open``); the daemon runs them on an owning thread (``SiteWorker``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgectl.config import ROLES, Config
from edgectl.domain import Command
from edgectl.site.actor import HUB, Actor
from edgectl.site.audit import OnCommit, audited
from edgectl.store import calendar, card_import, kv, pinkeys, workorders
from edgectl.store.credentials import (
    EMERGENCY,
    INSERT_CREDENTIAL,
    LOCKDOWN,
    CredentialError,
    CredentialValues,
    card_label,
    credential_row,
    credential_values,
    find_card,
)
from edgectl.store.db import open_store
from edgectl.store.tx import transaction
from rules import modes
from rules.access import STATUSES, pin_candidates
from rules.policy import SitePolicy
from rules.settings import Schedule
from sync import apply


@dataclass(frozen=True, slots=True)
class IssuedPass:
    code: str
    person_id: str
    credential_id: int
    valid_until: datetime


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when else None


def _columns(v: CredentialValues) -> tuple[object, ...]:
    return credential_row(v)[:8]  # the number in its stored form (a BLOB past 64 bits)


class SiteService:
    def __init__(
        self, conn: sqlite3.Connection, config: Config, on_commit: OnCommit | None = None
    ) -> None:
        self.conn = conn
        self.config = config
        self.policy = SitePolicy.from_config(config)
        self.on_commit = on_commit
        conn.execute("PRAGMA synchronous = FULL")  # an audited change is durable at commit

    @classmethod
    def open(cls, config: Config) -> SiteService:
        """A service on its own connection (the CLI process). ``close()`` when done."""
        return cls(open_store(config.store.path), config)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def change(
        self,
        actor: Actor,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
        cached: bool = False,
    ) -> Iterator[sqlite3.Connection]:
        """One audited transaction, for changes this class has no method for yet."""
        with audited(
            self.conn,
            actor,
            action,
            subject,
            details if details is not None else {},
            now=now or datetime.now(UTC),
            cached=cached,
            on_commit=self.on_commit,
        ) as conn:
            yield conn

    # --- people -----------------------------------------------------------------------

    def upsert_person(
        self,
        person_id: str,
        *,
        actor: Actor,
        name: str = "",
        role: str = "resident",
        butler_id: str | None = None,
        notify_arrival: bool = False,
        extended_access_s: int = 0,
        now: datetime | None = None,
    ) -> None:
        """Add a person or replace their details."""
        details = {"name": name, "role": role}
        with self.change(actor, "person_upsert", f"person {person_id}", details, now=now) as c:
            self._upsert_person(
                c, person_id, name, role, butler_id, notify_arrival, extended_access_s
            )

    def add_person(
        self,
        person_id: str,
        *,
        actor: Actor,
        name: str = "",
        role: str = "resident",
        levels: Iterable[str] = (),
        now: datetime | None = None,
    ) -> None:
        """Add a new person with ``levels``, all or nothing; an existing id is refused."""
        details: dict[str, Any] = {"name": name, "role": role, "levels": list(levels)}
        with self.change(actor, "person_add", f"person {person_id}", details, now=now) as c:
            if c.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone():
                raise CredentialError(f"person {person_id!r} already exists")
            self._upsert_person(c, person_id, name, role)
            for level in details["levels"]:
                self._grant(c, person_id, level)

    def _upsert_person(
        self,
        c: sqlite3.Connection,
        person_id: str,
        name: str = "",
        role: str = "resident",
        butler_id: str | None = None,
        notify_arrival: bool = False,
        extended_access_s: int = 0,
    ) -> None:
        if not person_id:
            raise CredentialError("person id: expected a non-empty id")
        if role not in ROLES:
            raise CredentialError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        c.execute(
            "INSERT INTO people (id, name, role, butler_id, notify_arrival, extended_access) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "role = excluded.role, butler_id = excluded.butler_id, "
            "notify_arrival = excluded.notify_arrival, extended_access = excluded.extended_access",
            (person_id, name, role, butler_id, int(notify_arrival), extended_access_s),
        )

    def _require_person(self, c: sqlite3.Connection, person_id: str) -> None:
        if not c.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone():
            raise CredentialError(f"no person {person_id!r}")

    # --- credentials --------------------------------------------------------------------

    def _insert(
        self, c: sqlite3.Connection, person_id: str, values: CredentialValues, now: datetime
    ) -> int:
        try:
            cur = c.execute(
                INSERT_CREDENTIAL,
                (*_columns(values), values.valid_from, values.valid_until, person_id, _iso(now)),
            )
        except sqlite3.IntegrityError:
            raise CredentialError(f"{values.label()} is already registered") from None
        return int(cur.lastrowid or 0)

    def add_credential(
        self,
        person_id: str,
        values: CredentialValues,
        *,
        actor: Actor,
        create_person: dict[str, Any] | None = None,
        levels: Iterable[str] = (),
        now: datetime | None = None,
    ) -> int:
        """Store a checked credential for ``person_id``; all or nothing. With
        ``create_person`` (``name``, ``role``) a new person is created first; ``levels``
        are granted in the same transaction. Returns the credential's id."""
        now = now or datetime.now(UTC)
        details: dict[str, Any] = {"person": person_id, "kind": values.kind, "levels": list(levels)}
        with self.change(actor, "credential_add", values.label(), details, now=now) as c:
            exists = c.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone()
            if not exists and create_person is not None:
                self._upsert_person(c, person_id, **create_person)
                details["person_created"] = True
            self._require_person(c, person_id)
            cred_id = self._insert(c, person_id, values, now)
            for level in details["levels"]:
                self._grant(c, person_id, level)
            details["credential_id"] = cred_id
        return cred_id

    def add_card(
        self,
        person_id: str,
        facility: int | None,
        number: int,
        targets: tuple[str, ...] = ("*",),
        name: str = "",
        role: str = "resident",
        fmt: str = "h10301",
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> int:
        """Shortcut: a person (if new) with a personal level on ``targets`` and one card."""
        now = now or datetime.now(UTC)
        level = "all" if targets == ("*",) else f"person:{person_id}"
        values = credential_values("card", format=fmt, facility=facility, number=number)
        details: dict[str, Any] = {"person": person_id, "level": level}
        with self.change(actor, "card_add", values.label(), details, now=now, cached=True) as c:
            if not c.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone():
                self._upsert_person(c, person_id, name, role)
            if level != "all" or not self._level_exists(c, level):
                self._define_level(c, level, targets)
            self._grant(c, person_id, level)
            cred_id = self._insert(c, person_id, values, now)
            details["credential_id"] = cred_id
        return cred_id

    def card_id(self, facility: int | None, number: int) -> int | None:
        """The id of card ``facility:number``, if registered (a read)."""
        return find_card(self.conn, facility, number)

    def set_credential_status(
        self, credential_id: int, status: str, *, actor: Actor, now: datetime | None = None
    ) -> bool:
        """Suspend, revoke or reactivate credential ``credential_id``; False if none."""
        if status not in STATUSES:
            raise CredentialError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        now = now or datetime.now(UTC)
        subject = f"credential #{credential_id}"
        try:
            with self.change(actor, "credential_status", subject, {"status": status}, now=now) as c:
                cur = c.execute(
                    "UPDATE credentials SET status = ?, updated_at = ? WHERE id = ?",
                    (status, _iso(now), credential_id),
                )
                if cur.rowcount == 0:
                    raise _NothingChanged
        except _NothingChanged:
            return False
        return True

    def set_card_status(
        self,
        facility: int | None,
        number: int,
        status: str,
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> bool:
        """Suspend, revoke or reactivate the card ``facility:number``; False if none."""
        if status not in STATUSES:
            raise CredentialError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        now = now or datetime.now(UTC)
        subject = card_label(facility, number)
        try:
            with self.change(actor, "credential_status", subject, {"status": status}, now=now) as c:
                found = find_card(c, facility, number)
                if found is None:
                    raise _NothingChanged
                c.execute(
                    "UPDATE credentials SET status = ?, updated_at = ? WHERE id = ?",
                    (status, _iso(now), found),
                )
        except _NothingChanged:
            return False
        return True

    def set_validity(
        self,
        credential_id: int,
        valid_from: datetime | None,
        valid_until: datetime | None,
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> bool:
        if valid_from and valid_until and valid_until <= valid_from:
            raise CredentialError("valid_until: the validity window ends before it starts")
        now = now or datetime.now(UTC)
        details = {"valid_from": _iso(valid_from), "valid_until": _iso(valid_until)}
        subject = f"credential #{credential_id}"
        try:
            with self.change(actor, "credential_validity", subject, details, now=now) as c:
                cur = c.execute(
                    "UPDATE credentials SET valid_from = ?, valid_until = ?, updated_at = ? "
                    "WHERE id = ?",
                    (_iso(valid_from), _iso(valid_until), _iso(now), credential_id),
                )
                if cur.rowcount == 0:
                    raise _NothingChanged
        except _NothingChanged:
            return False
        return True

    def revoke_person(self, person_id: str, *, actor: Actor, now: datetime | None = None) -> int:
        """Move-out: revoke every credential a person holds, and every visitor pass they
        host (a departed host's guests must not keep getting in); return how many."""
        now = now or datetime.now(UTC)
        details: dict[str, Any] = {}
        try:
            with self.change(actor, "person_revoke", f"person {person_id}", details, now=now) as c:
                cur = c.execute(
                    "UPDATE credentials SET status = 'revoked', updated_at = ? "
                    "WHERE status != 'revoked' AND (person_id = ? OR id IN "
                    "(SELECT credential_id FROM visitor_passes WHERE host_id = ?))",
                    (_iso(now), person_id, person_id),
                )
                if cur.rowcount == 0:
                    raise _NothingChanged
                details["revoked"] = cur.rowcount
        except _NothingChanged:
            return 0
        return int(details["revoked"])

    def import_cards(
        self,
        path: Path,
        *,
        actor: Actor,
        skip_bad: bool = False,
        progress: card_import.Progress | None = None,
        now: datetime | None = None,
        encoding: str = "auto",
    ) -> card_import.ImportResult:
        """Check every row of the CSV ``path``; apply all (or, with ``skip_bad``, the good
        ones) in one transaction with ONE audit event: file name and count."""
        now = now or datetime.now(UTC)
        result = card_import.stage_csv(
            self.conn,
            path,
            self.config.site.zone,
            skip_bad=skip_bad,
            progress=progress,
            encoding=encoding,
        )
        try:
            if (result.errors and not skip_bad) or result.rows == 0 or result.unreadable:
                return result
            details: dict[str, Any] = {"file": path.name, "skipped": len(result.errors)}
            with self.change(actor, "cards_import", f"file {path.name}", details, now=now) as c:
                result.imported = card_import.apply_staged(c, now)
                details["count"] = result.imported
        finally:
            card_import.clear_stage(self.conn)
        return result

    # --- levels and groups --------------------------------------------------------------

    def _level_exists(self, c: sqlite3.Connection, level_id: str) -> bool:
        return (
            c.execute("SELECT 1 FROM access_levels WHERE id = ?", (level_id,)).fetchone()
            is not None
        )

    def _define_level(
        self,
        c: sqlite3.Connection,
        level_id: str,
        targets: Iterable[str],
        schedule: str = "always",
        name: str = "",
    ) -> None:
        stored = [row[0] for row in c.execute("SELECT id FROM site_schedules")]
        if schedule not in self.policy.plans and schedule not in stored:
            known = ", ".join(sorted({*self.policy.plans, *stored}))
            raise CredentialError(f"schedule: unknown schedule {schedule!r}; known: {known}")
        targets = tuple(dict.fromkeys(targets))
        unknown = [t for t in targets if t != "*" and t not in self.policy.targets]
        if unknown:
            raise CredentialError(f"targets: no door or gate {', '.join(unknown)}")
        c.execute(
            "INSERT INTO access_levels (id, name, schedule) VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET name = excluded.name, schedule = excluded.schedule",
            (level_id, name, schedule),
        )
        c.execute("DELETE FROM access_level_targets WHERE level_id = ?", (level_id,))
        c.executemany(
            "INSERT INTO access_level_targets VALUES (?, ?)", [(level_id, t) for t in targets]
        )

    def define_level(
        self,
        level_id: str,
        targets: Iterable[str],
        schedule: str = "always",
        name: str = "",
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> None:
        """Create or replace an access level: doors/gates (``"*"``: all) and a schedule."""
        targets = tuple(dict.fromkeys(targets))
        details = {"targets": list(targets), "schedule": schedule}
        with self.change(
            actor, "level_define", f"level {level_id}", details, now=now, cached=True
        ) as c:
            self._define_level(c, level_id, targets, schedule, name)

    def _grant(self, c: sqlite3.Connection, person_id: str, level_id: str) -> None:
        if not self._level_exists(c, level_id):
            raise CredentialError(f"no access level {level_id!r}")
        c.execute("INSERT OR IGNORE INTO person_levels VALUES (?, ?)", (person_id, level_id))

    def grant_level(
        self, person_id: str, level_id: str, *, actor: Actor, now: datetime | None = None
    ) -> None:
        details = {"level": level_id}
        with self.change(actor, "level_grant", f"person {person_id}", details, now=now) as c:
            self._require_person(c, person_id)
            self._grant(c, person_id, level_id)

    def remove_level(
        self, person_id: str, level_id: str, *, actor: Actor, now: datetime | None = None
    ) -> bool:
        """Take level ``level_id`` from a person; False (no audit event) if not held."""
        details = {"level": level_id}
        try:
            with self.change(actor, "level_remove", f"person {person_id}", details, now=now) as c:
                cur = c.execute(
                    "DELETE FROM person_levels WHERE person_id = ? AND level_id = ?",
                    (person_id, level_id),
                )
                if cur.rowcount == 0:
                    raise _NothingChanged
        except _NothingChanged:
            return False
        return True

    def delete_level(
        self, level_id: str, *, actor: Actor, force: bool = False, now: datetime | None = None
    ) -> int:
        """Delete an access level; returns how many people held it. A level someone holds
        is deleted only with ``force`` (they lose it in the same transaction)."""
        details: dict[str, Any] = {}
        with self.change(
            actor, "level_delete", f"level {level_id}", details, now=now, cached=True
        ) as c:
            if not self._level_exists(c, level_id):
                raise CredentialError(f"no access level {level_id!r}")
            (held,) = c.execute(
                "SELECT count(*) FROM person_levels WHERE level_id = ?", (level_id,)
            ).fetchone()
            if held and not force:
                raise CredentialError(
                    f"level {level_id!r} is held by {held} people; "
                    "take it from them first, or use --force"
                )
            c.execute("DELETE FROM access_levels WHERE id = ?", (level_id,))
            details["holders"] = held
        return int(held)

    def define_group(
        self,
        group_id: str,
        level_ids: Iterable[str],
        name: str = "",
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> None:
        """Create or replace a group and the levels its members get."""
        level_ids = tuple(dict.fromkeys(level_ids))
        details = {"levels": list(level_ids)}
        with self.change(
            actor, "group_define", f"group {group_id}", details, now=now, cached=True
        ) as c:
            missing = [lv for lv in level_ids if not self._level_exists(c, lv)]
            if missing:
                raise CredentialError(f"levels: no access level {', '.join(missing)}")
            c.execute(
                "INSERT INTO groups (id, name) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                (group_id, name),
            )
            c.execute("DELETE FROM group_levels WHERE group_id = ?", (group_id,))
            c.executemany(
                "INSERT INTO group_levels VALUES (?, ?)", [(group_id, lv) for lv in level_ids]
            )

    def join_group(
        self, person_id: str, group_id: str, *, actor: Actor, now: datetime | None = None
    ) -> None:
        details = {"group": group_id}
        with self.change(actor, "group_join", f"person {person_id}", details, now=now) as c:
            self._require_person(c, person_id)
            if not c.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone():
                raise CredentialError(f"no group {group_id!r}")
            c.execute("INSERT OR IGNORE INTO person_groups VALUES (?, ?)", (person_id, group_id))

    # --- schedules and holidays: site data beside the config's ----------------------------

    def add_schedule(
        self,
        schedule_id: str,
        windows: Iterable[str],
        *,
        actor: Actor,
        name: str = "",
        now: datetime | None = None,
    ) -> Schedule:
        """Add a week schedule from windows such as ``"mon-fri 07:00-19:00"`` (site local
        time). An id that is built in, in the config or already stored is refused."""
        schedule = calendar.parse_schedule(schedule_id, windows, name)
        if schedule_id in self.config_schedules():
            raise CredentialError(
                f"schedule {schedule_id!r} is defined in the site config (access.schedules); "
                "choose another id"
            )
        row = calendar.schedule_row(schedule)
        details = {"name": name, "windows": json.loads(row[2])}
        subject = f"schedule {schedule_id}"
        with self.change(actor, "schedule_add", subject, details, now=now, cached=True) as c:
            try:
                c.execute("INSERT INTO site_schedules (id, name, windows) VALUES (?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise CredentialError(
                    f"schedule {schedule_id!r} already exists; remove it first to change it"
                ) from None
        return schedule

    def config_schedules(self) -> set[str]:
        """Schedule ids the site service cannot change: built in or in the config."""
        return {"always", "never", *(s.id for s in self.config.access.schedules)}

    def remove_schedule(
        self, schedule_id: str, *, actor: Actor, now: datetime | None = None
    ) -> None:
        """Delete a stored schedule; refused while an access level uses it."""
        if schedule_id in self.config_schedules():
            raise CredentialError(
                f"schedule {schedule_id!r} is built in or defined in the site config "
                "(access.schedules): the CLI cannot remove it; edit the config instead"
            )
        subject = f"schedule {schedule_id}"
        with self.change(actor, "schedule_remove", subject, {}, now=now, cached=True) as c:
            if not c.execute(
                "SELECT 1 FROM site_schedules WHERE id = ?", (schedule_id,)
            ).fetchone():
                raise CredentialError(f"no schedule {schedule_id!r}")
            users = [
                row[0]
                for row in c.execute(
                    "SELECT id FROM access_levels WHERE schedule = ? ORDER BY id", (schedule_id,)
                )
            ]
            if users:
                raise CredentialError(
                    f"schedule {schedule_id!r} is used by access level(s) {', '.join(users)}; "
                    "give them another schedule (edgectl levels add) or remove them first"
                )
            c.execute("DELETE FROM site_schedules WHERE id = ?", (schedule_id,))

    def add_holiday(
        self,
        day: str,
        *,
        actor: Actor,
        name: str = "",
        kind: str = calendar.DEFAULT_HOLIDAY_TYPE,
        now: datetime | None = None,
    ) -> str:
        """Add a holiday on local date ``day`` (ISO, YYYY-MM-DD); returns the date. On it
        every schedule is closed but for its segments for holidays of type ``kind``."""
        day = calendar.parse_day(day)
        declared = self.config.access.holiday_types
        if kind != calendar.DEFAULT_HOLIDAY_TYPE and kind not in declared:
            raise CredentialError(
                f"type: unknown holiday type {kind!r}; expected "
                f"{', '.join((calendar.DEFAULT_HOLIDAY_TYPE, *declared))}"
            )
        if day in calendar.config_days(self.config.access.holidays):
            raise CredentialError(
                f"{day} is a holiday in the site config (access.holidays); edit it there"
            )
        details = {"type": kind, "name": name}
        with self.change(
            actor, "holiday_add", f"holiday {day}", details, now=now, cached=True
        ) as c:
            try:
                c.execute("INSERT INTO site_holidays VALUES (?, ?, ?)", (day, kind, name))
            except sqlite3.IntegrityError:
                raise CredentialError(
                    f"{day} is already a holiday; remove it first to change it"
                ) from None
        return day

    def remove_holiday(self, day: str, *, actor: Actor, now: datetime | None = None) -> str:
        """Delete a stored holiday; returns the date."""
        day = calendar.parse_day(day)
        if day in calendar.config_days(self.config.access.holidays):
            raise CredentialError(
                f"{day} is a holiday in the site config (access.holidays): the CLI cannot "
                "remove it; edit the config instead"
            )
        with self.change(actor, "holiday_remove", f"holiday {day}", {}, now=now, cached=True) as c:
            if c.execute("DELETE FROM site_holidays WHERE day = ?", (day,)).rowcount == 0:
                raise CredentialError(f"no holiday on {day}")
        return day

    # --- visitor passes -----------------------------------------------------------------

    def issue_visitor_pass(
        self,
        visitor_name: str,
        host_id: str,
        until: datetime,
        targets: Iterable[str],
        *,
        actor: Actor,
        uses: int = 1,
        now: datetime | None = None,
    ) -> IssuedPass:
        """Register a visitor and hand back a pass code, in one call.

        The pass is valid from ``now`` until ``until`` at ``targets`` (gate and door ids),
        for ``uses`` grants (0: unlimited), and is tied to the host resident ``host_id``.
        The audit names the pass by its credential id, never by its code.
        """
        now = now or datetime.now(UTC)
        targets = tuple(dict.fromkeys(targets))
        unknown = [t for t in targets if t not in self.policy.targets]
        if not targets or unknown:
            raise CredentialError(f"targets: expected gate or door ids, unknown: {unknown}")
        if until <= now:
            raise CredentialError("until: the pass would expire before it starts")
        if uses < 0:
            raise CredentialError("uses: expected 0 (unlimited) or more")
        details: dict[str, Any] = {"host": host_id, "until": _iso(until), "targets": list(targets)}
        with self.change(actor, "visitor_pass_issue", "visitor pass", details, now=now) as c:
            host = c.execute("SELECT role FROM people WHERE id = ?", (host_id,)).fetchone()
            if host is None or host[0] != "resident":
                raise CredentialError(f"host: no resident {host_id!r}")
            keyring = pinkeys.keyring_for(c)
            key = pinkeys.current_key(keyring)
            code = self._free_code(c, pinkeys.read_keys(keyring))
            # the visitor's id is a random pass id, never the code: person ids are shown
            # to staff and journaled with every decision (issue 11)
            person_id = f"visitor:{secrets.token_hex(6)}"
            values = credential_values(
                "visitor", code=code, key=key, valid_from=now, valid_until=until
            )
            c.execute(
                "INSERT INTO people (id, name, role) VALUES (?, ?, 'visitor')",
                (person_id, visitor_name),
            )
            cred_id = self._insert(c, person_id, values, now)
            c.execute(
                "INSERT INTO visitor_passes VALUES (?, ?, ?, 0, ?)",
                (cred_id, host_id, uses, ",".join(targets)),
            )
            details["credential_id"] = cred_id
        return IssuedPass(code, person_id, cred_id, until)

    def _free_code(self, c: sqlite3.Connection, keys: tuple[bytes, ...]) -> str:
        digits = self.config.access.visitor_code_digits
        for _ in range(20):
            code = f"{secrets.randbelow(10**digits):0{digits}d}"
            if _visitor_by_code(c, code, keys) is None:
                return code
        raise CredentialError("no free visitor code; raise access.visitor_code_digits")

    def revoke_visitor_pass(
        self,
        code: str = "",
        *,
        actor: Actor,
        credential_id: int = 0,
        now: datetime | None = None,
    ) -> bool:
        """Revoke the pass with this ``code`` (or this ``credential_id``); False if none."""
        now = now or datetime.now(UTC)
        details: dict[str, Any] = {}
        try:
            with self.change(actor, "visitor_pass_revoke", "visitor pass", details, now=now) as c:
                keys = pinkeys.read_keys(pinkeys.keyring_for(c))
                wanted = _visitor_by_code(c, code, keys) or credential_id
                row = c.execute(
                    "SELECT id FROM credentials WHERE kind = 'visitor' AND status != 'revoked' "
                    "AND id = ?",
                    (wanted,),
                ).fetchone()
                if row is None:
                    raise _NothingChanged
                c.execute(
                    "UPDATE credentials SET status = 'revoked', updated_at = ? WHERE id = ?",
                    (_iso(now), row[0]),
                )
                details["credential_id"] = row[0]
        except _NothingChanged:
            return False
        return True

    # --- anti-passback, modes, work orders, hub -----------------------------------------

    def forgive(self, person_id: str, *, actor: Actor, now: datetime | None = None) -> int:
        """Operator forgive: forget where anti-passback last saw a person."""
        details: dict[str, Any] = {}
        with self.change(
            actor, "antipassback_forgive", f"person {person_id}", details, now=now
        ) as c:
            cur = c.execute("DELETE FROM antipassback WHERE person_id = ?", (person_id,))
            details["forgotten"] = cur.rowcount
        return int(details["forgotten"])

    def _set_flag(self, key: str, on: bool, actor: Actor, now: datetime | None) -> None:
        mode = key.removeprefix("access.")
        with self.change(actor, "mode", mode, {"on": on}, now=now, cached=True) as c:
            c.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, "1" if on else "0")
            )

    def set_lockdown(
        self, on: bool, *, actor: Actor, now: datetime | None = None
    ) -> tuple[Command, ...]:
        """Enter or leave lockdown; returns the commands to carry out (relock doors)."""
        self._set_flag(LOCKDOWN, on, actor, now)
        return modes.lockdown_effects(self.policy, on)

    def set_emergency(
        self, on: bool, *, actor: Actor, now: datetime | None = None
    ) -> tuple[Command, ...]:
        """Enter or leave emergency; returns the commands (open gates, release doors)."""
        self._set_flag(EMERGENCY, on, actor, now)
        return modes.emergency_effects(self.policy, on)

    def apply_hub_changes(
        self,
        changes: list[apply.Change],
        cursor: int,
        *,
        replace: bool = False,
        actor: Actor = HUB,
        now: datetime | None = None,
    ) -> None:
        """A pulled page: every change, the new cursor and one audit event, all or nothing.
        A page with no change only moves the cursor (sync bookkeeping: no audit event)."""
        if not changes and not replace:
            with transaction(self.conn):
                kv.put(self.conn, kv.CHANGES_CURSOR, cursor)
            return
        counts: dict[str, int] = {}
        for ch in changes:
            counts[f"{ch.type}_{ch.op}"] = counts.get(f"{ch.type}_{ch.op}", 0) + 1
        details: dict[str, Any] = {"cursor": cursor, "replace": replace, "counts": counts}
        now = now or datetime.now(UTC)
        with self.change(actor, "hub_changes", "hub pull", details, now=now, cached=True) as c:
            apply.write_changes(c, changes, cursor, now, replace=replace)

    def store_hub_orders(
        self,
        orders: list[dict[str, Any]],
        cursor: int,
        *,
        actor: Actor = HUB,
        now: datetime | None = None,
    ) -> None:
        """Pulled work orders (checked by ``workorders.validate_order``) and the new cursor,
        with one audit event naming the orders; a page with none only moves the cursor."""
        if not orders:
            with transaction(self.conn):
                kv.put(self.conn, kv.WORKORDERS_CURSOR, cursor)
            return
        details = {"cursor": cursor, "orders": [str(o.get("id")) for o in orders]}
        with self.change(actor, "hub_work_orders", "work orders", details, now=now) as c:
            workorders.store_orders(c, orders)
            kv.put(c, kv.WORKORDERS_CURSOR, cursor)


class _NothingChanged(Exception):
    """Roll back: the change found nothing to change (no audit event is written)."""


def _visitor_by_code(c: sqlite3.Connection, code: str, keys: tuple[bytes, ...]) -> int | None:
    """The credential id of the visitor pass whose code is ``code`` (kept only as digests)."""
    if not code:
        return None
    for digest in pin_candidates(code, keys):
        row = c.execute(
            "SELECT id FROM credentials WHERE kind = 'visitor' AND secret = ?", (digest,)
        ).fetchone()
        if row is not None:
            return int(row[0])
    return None
