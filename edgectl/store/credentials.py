"""Credential lookups for the access path (minimal spine version)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from edgectl.config import Config, Reader
from edgectl.domain import CredentialPresented
from rules.access import AccessState, CredentialView


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class AccessIndex:
    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self.conn = conn
        self.config = config
        self._doors = {d.id: d for d in config.doors}

    @classmethod
    def load(cls, conn: sqlite3.Connection, config: Config) -> AccessIndex:
        return cls(conn, config)

    def state_for(self, event: CredentialPresented, reader: Reader) -> AccessState:
        kind = "gate" if reader.gate else "door"
        door = self._doors.get(reader.door)
        return AccessState(
            reader=reader.id,
            target=reader.target,
            target_kind=kind,
            unlock_s=door.unlock_s if door else 5.0,
            credential=self._lookup(event),
        )

    def _lookup(self, event: CredentialPresented) -> CredentialView | None:
        row = self.conn.execute(
            "SELECT id, person_id, status, valid_from, valid_until FROM credentials "
            "WHERE number = ? AND facility IS ? AND kind = 'card'",
            (event.number, event.facility),
        ).fetchone()
        if row is None:
            return None
        targets = frozenset(
            r[0]
            for r in self.conn.execute(
                "SELECT t.target FROM person_levels p JOIN access_level_targets t "
                "ON t.level_id = p.level_id WHERE p.person_id = ?",
                (row[1],),
            )
        )
        return CredentialView(row[0], row[1], row[2], _dt(row[3]), _dt(row[4]), targets)

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
        now = datetime.now(UTC).isoformat()
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO people (id, name, role) VALUES (?, ?, ?)",
                (person_id, name, role),
            )
            level = f"person:{person_id}"
            self.conn.execute("INSERT OR IGNORE INTO access_levels (id) VALUES (?)", (level,))
            self.conn.executemany(
                "INSERT OR IGNORE INTO access_level_targets VALUES (?, ?)",
                [(level, t) for t in targets],
            )
            self.conn.execute(
                "INSERT OR IGNORE INTO person_levels VALUES (?, ?)", (person_id, level)
            )
            cur = self.conn.execute(
                "INSERT INTO credentials (kind, format, facility, number, person_id, updated_at) "
                "VALUES ('card', ?, ?, ?, ?, ?)",
                (fmt, facility, number, person_id, now),
            )
        return int(cur.lastrowid or 0)

    def set_status(self, facility: int | None, number: int, status: str) -> bool:
        with self.conn:
            cur = self.conn.execute(
                "UPDATE credentials SET status = ?, updated_at = ? "
                "WHERE number = ? AND facility IS ? AND kind = 'card'",
                (status, datetime.now(UTC).isoformat(), number, facility),
            )
        return cur.rowcount > 0
