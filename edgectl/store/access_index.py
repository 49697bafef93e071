"""The read side of access: what a decision needs, from indexed reads and small caches.

``AccessIndex.state_for(event, reader)`` answers with a few indexed SQLite reads in one
read snapshot (the credential joined to its person and visitor pass, the person's levels
and groups, the anti-passback position where the door uses it). Only site-sized data is
held in memory: access levels, group -> levels, the schedules and holidays kept as site
data, modes and the last sync time, reloaded when ``kv['access.rev']`` changes (the site
service bumps it, from any process).

It never writes on the event loop. ``apply(decision)`` makes a decision's updates visible
to the next swipe at once (an in-memory overlay) and hands them to the ``EffectWriter``,
which persists them in order on its own thread; the overlay keeps what the snapshot does
not hold yet (batch id above ``kv['access.effects_applied']``), so nothing is counted twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import structlog

from edgectl.config import Config, Reader
from edgectl.domain import CredentialPresented
from edgectl.store import calendar, pinkeys
from edgectl.store.cardnum import stored
from edgectl.store.credentials import (
    EFFECTS_APPLIED,
    EMERGENCY,
    LAST_SYNC,
    LOCKDOWN,
    REV,
    normalize_plate,
)
from edgectl.store.effects import EffectWriter
from edgectl.store.tx import transaction
from rules.access import (
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
    Update,
    VisitorPass,
    pin_candidates,
)
from rules.pairing import AwaitingPin, awaiting_after, paired
from rules.policy import SitePolicy

log = structlog.get_logger(__name__)

_SELECT = (
    "SELECT c.id, c.kind, c.status, c.valid_from, c.valid_until, c.pin, c.duress, "
    "p.id, p.name, p.role, p.butler_id, p.notify_arrival, p.extended_access, "
    "v.host_id, v.max_uses, v.uses, v.targets "
    "FROM credentials c JOIN people p ON p.id = c.person_id "
    "LEFT JOIN visitor_passes v ON v.credential_id = c.id "
)
_BY_CARD = _SELECT + (  # a card matches on its format too: {} is one ? per format
    "WHERE c.number = ? AND c.facility IS ? AND c.kind IN ('card', 'card_pin') AND c.format IN ({})"
)
_BY_SECRET = _SELECT + "WHERE c.secret = ? AND c.kind = ?"
_BY_DURESS = _SELECT + "WHERE c.duress = ? AND c.kind = 'pin'"
_LEVELS = (
    "SELECT 0, level_id FROM person_levels WHERE person_id = ? "
    "UNION ALL SELECT 1, group_id FROM person_groups WHERE person_id = ?"
)
_MARKS = "SELECT key, value FROM kv WHERE key IN (?, ?)"


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _first(
    q: Callable[..., sqlite3.Cursor], sql: str, args: Iterable[tuple[object, ...]]
) -> sqlite3.Row | None:
    """The first row ``sql`` finds for any of ``args``, in order."""
    for a in args:
        if (row := q(sql, a).fetchone()) is not None:
            return row  # type: ignore[no-any-return]
    return None


class AccessIndex:
    """Lookups for the access path; decision updates applied in memory, persisted behind."""

    def __init__(self, conn: sqlite3.Connection, config: Config, effects: EffectWriter) -> None:
        self.conn = conn
        self.config = config
        self.effects = effects
        self._config_policy = SitePolicy.from_config(config)
        self.policy = self._config_policy  # plus the site's own schedules once loaded
        self._rev: str | None = None
        self._levels: dict[str, Level] = {}
        self._groups: dict[str, tuple[str, ...]] = {}
        self.modes = Modes()
        self.last_sync: datetime | None = None
        self._pin_timeout = timedelta(seconds=config.access.pin_timeout_s)
        self._awaiting_pin: dict[str, AwaitingPin] = {}
        self._batch = effects.persisted
        self._overlay: list[tuple[int, Update]] = []  # updates the DB may not hold yet
        self.pin_keys: tuple[bytes, ...] = ()  # the site's PIN keyring (keyed PIN digests)
        self._keyring = pinkeys.keyring_for(conn)
        self._keyring_stamp: int | None = None

    @classmethod
    def load(cls, conn: sqlite3.Connection, config: Config) -> AccessIndex:
        """Load the site-sized part (levels, groups, modes); credentials stay in SQLite."""
        index = cls(conn, config, EffectWriter(config.store.path))
        with transaction(conn, immediate=False):
            index._refresh()
        return index

    def close(self) -> None:
        """Persist the pending decision updates, then stop the writer."""
        self.effects.close()

    # --- keeping the in-memory part in step ---------------------------------------

    def _refresh(self) -> None:
        """Inside a read snapshot: drop overlay entries the DB holds; reload caches."""
        marks = dict(self.conn.execute(_MARKS, (REV, EFFECTS_APPLIED)).fetchall())
        applied = int(marks.get(EFFECTS_APPLIED, 0))
        if self._overlay and self._overlay[0][0] <= applied:
            self._overlay = [(b, u) for b, u in self._overlay if b > applied]
        self._reload_keys()
        rev = marks.get(REV, "0")
        if rev == self._rev:
            return
        self.policy = calendar.site_policy(self._config_policy, self.conn)
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
        self._rev = rev

    def _reload_keys(self) -> None:
        """Reload the PIN keyring when its file changed (a pulled or a first local key)."""
        try:
            stamp = self._keyring.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = 0
        if stamp == self._keyring_stamp:
            return
        self._keyring_stamp = stamp
        try:
            self.pin_keys = pinkeys.read_keys(self._keyring)
        except (OSError, ValueError) as exc:
            log.error("pin_keyring_unreadable", error=str(exc))

    # --- the access path ----------------------------------------------------------

    def state_for(self, event: CredentialPresented, reader: Reader) -> AccessState:
        """What the rules need; raises sqlite3.Error if the store cannot be read."""
        with transaction(self.conn, immediate=False):  # one read snapshot, no write lock
            return self._state_for(event, reader)

    def _state_for(self, event: CredentialPresented, reader: Reader) -> AccessState:
        self._refresh()
        target = self.policy.targets[reader.target]
        levels: tuple[Level, ...] = ()
        position = last_pass = None
        visitor = view = None
        card = paired(self._awaiting_pin.pop(reader.id, None), event.format == "pin", event.at)
        found = (card, None) if card is not None else self._credential(event)
        if found is not None:
            view, visitor = found
            if view.kind != "visitor" or visitor is None:
                levels = self._person_levels(view.person.id)
                visitor = None
            if target.antipassback != "off" or target.area_antipassback != "off":
                position, last_pass = self._antipassback(view.person.id, target.id, target.area)
        if awaiting := awaiting_after(view, bool(event.pin), event.at, self._pin_timeout):
            self._awaiting_pin[reader.id] = awaiting
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
                row = _first(q, _BY_SECRET, [(d, "visitor") for d in digests])
        elif event.format in ("code", "qr"):
            digests = pin_candidates(event.pin or str(event.number), self.pin_keys)
            row = _first(q, _BY_SECRET, [(d, "visitor") for d in digests])
        else:
            formats = self.config.access.card_formats(event.format)
            by_card = _BY_CARD.format(",".join("?" * len(formats)))
            row = q(by_card, (stored(event.number), event.facility, *formats)).fetchone()
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
            uses = row[15] + sum(
                1 for _, u in self._overlay if isinstance(u, PassUse) and u.credential_id == row[0]
            )
            visitor = VisitorPass(row[13], row[14], uses, frozenset(row[16].split(",")))
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
        for _, u in self._overlay:  # newer than the snapshot, in decision order
            if isinstance(u, AreaMove) and u.person_id == person_id and u.area == area:
                position = Position(u.state, u.at)
            elif isinstance(u, TargetPass) and u.person_id == person_id and u.target == target:
                last_pass = u.at
        return position, last_pass

    def apply(self, decision: Decision) -> None:
        """A decision's updates (anti-passback, pass uses): visible to the next swipe now,
        persisted in order in the background. Never blocks, never raises."""
        if not decision.updates:
            return
        self._batch += 1
        self._overlay.extend((self._batch, u) for u in decision.updates)
        self.effects.submit(self._batch, decision.updates)

    def forget(self, person_id: str) -> None:
        """An operator forgave ``person_id``: drop their anti-passback updates not yet read
        back (the service has deleted the stored ones)."""
        self._overlay = [
            (b, u) for b, u in self._overlay if isinstance(u, PassUse) or u.person_id != person_id
        ]
