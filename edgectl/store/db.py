"""SQLite connections and versioned migrations.

The database runs in WAL mode so the CLI can read while the daemon writes. Migrations are
numbered and applied at start, each in its own transaction; ``PRAGMA user_version`` records
the last one applied. A migration is never edited once released: add a new one.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
from pathlib import Path

from edgectl.store.migrations import MIGRATIONS
from edgectl.store.tx import transaction

BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    """The database cannot be opened or written (path, permissions, full disk, corruption)."""


def create_private(path: Path) -> None:
    """Create ``path`` (if missing) readable by its owner only, before SQLite opens it.

    SQLite gives the -wal and -shm files the database file's mode, so they are 0600 too. An
    existing file is never opened here: closing any descriptor of a database would drop the
    POSIX locks SQLite holds on it in this process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the store with the pragmas every connection needs."""
    path = Path(path)
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            create_private(path)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except (sqlite3.Error, OSError) as exc:
        if not readonly and _is_access_error(exc):
            raise StoreError(not_writable(path, exc)) from exc
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    return conn


def _is_access_error(exc: Exception) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return isinstance(exc, PermissionError) or name.startswith(
        ("SQLITE_READONLY", "SQLITE_CANTOPEN")
    )


def _user(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def not_writable(path: Path, exc: Exception) -> str:
    """Why the store at ``path`` cannot be written, and which user must own it."""
    me = _user(os.geteuid())
    where = path.parent if not path.exists() else path
    try:
        owner = _user(os.stat(where).st_uid)
        read_only_fs = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except OSError:
        owner, read_only_fs = "unknown", False
    if read_only_fs:
        fix = f"the filesystem holding {where} is mounted read-only; remount it read-write"
    else:
        fix = (
            f"{where} is owned by {owner}; edgectl runs as {me}, which must own the database, "
            f"its -wal and -shm files and their directory {path.parent} (chown {me.split()[0]})"
        )
    return f"database {path} is not writable ({exc}): {fix}"


def check_writable(conn: sqlite3.Connection, path: Path | str) -> None:
    """Write the store's header once, so a read-only store fails now, not at every commit.

    If another process holds the write lock (an import), the probe does not wait for it:
    the file's permissions and its filesystem are checked instead.
    """
    conn.execute("PRAGMA busy_timeout = 100")
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if _is_access_error(exc):
            raise StoreError(not_writable(Path(path), exc)) from exc
        name = getattr(exc, "sqlite_errorname", "") or ""
        if not name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            raise StoreError(f"cannot write database {path}: {exc}") from exc
        _check_access(Path(path))
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _check_access(path: Path) -> None:
    for where in (path, path.parent):
        read_only_fs = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
        if read_only_fs or not os.access(where, os.W_OK):
            raise StoreError(not_writable(path, PermissionError(f"{where} is not writable")))


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
    check_writable(conn, path)
    migrate(conn)
    return conn
