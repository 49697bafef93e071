"""SQLite connections and versioned migrations.

The database runs in WAL mode so the CLI can read while the daemon writes. Migrations are
numbered and applied at start, each in its own transaction; ``PRAGMA user_version`` records
the last one applied. A migration is never edited once released: add a new one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edgectl.store.migrations import MIGRATIONS
from edgectl.store.tx import transaction


class StoreError(Exception):
    """The database cannot be opened or written (path, permissions, full disk, corruption)."""


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the store with the pragmas every connection needs."""
    path = Path(path)
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; return the schema version now in force."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise StoreError(
            f"database schema version {current} is newer than this edgectl "
            f"({len(MIGRATIONS)}); upgrade edgectl instead of downgrading"
        )
    for version, sql in enumerate(MIGRATIONS[current:], start=current + 1):
        try:
            with transaction(conn):
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
        except sqlite3.Error as exc:
            raise StoreError(f"migration {version} failed: {exc}") from exc
    return len(MIGRATIONS)


def _statements(sql: str) -> list[str]:
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def open_store(path: Path | str) -> sqlite3.Connection:
    """Open the store read-write and bring its schema up to date."""
    conn = connect(path)
    migrate(conn)
    return conn
