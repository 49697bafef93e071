"""A damaged store: find it (``PRAGMA quick_check``) and salvage what can be read.

``salvage`` copies every readable row of every table the current schema has into a fresh
store, table by table along the rowid b-tree (indexes are rebuilt, never trusted). When a
page cannot be read it skips ahead, doubling the step, to the next rowid that reads, so one
bad page costs the rows on it. Foreign keys are not enforced while copying (a person's page
may be the damaged one); the report counts the orphans. The journal's ``seq`` never goes
back: the new store's sequence is the old one's, or the highest seq salvaged if that is
lost. The kv table (sync cursor, journal epoch and other identity) is copied, its rows winning
over those the new store's migrations made.

``recover`` does this beside the store and swaps the result in, keeping the damaged files
as ``<db>.damaged-<time>``. It holds the store lock, so it refuses while a daemon runs.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from edgectl.store.db import StoreError, connect, open_store

CHUNK = 500
MAX_SKIP = 1 << 62
SIDE_FILES = ("-wal", "-shm")  # the -wal holds committed pages; the -shm is rebuilt


def quick_check(conn: sqlite3.Connection, limit: int = 5) -> list[str]:
    """The first problems ``PRAGMA quick_check`` finds; empty when the store is sound."""
    try:
        rows = conn.execute(f"PRAGMA quick_check({int(limit)})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    problems = [str(r[0]) for r in rows]
    return [] if problems == ["ok"] else problems


def ensure_intact(path: Path | str) -> None:
    """Raise StoreError naming ``edgectl db recover`` if the store at ``path`` is damaged."""
    if not Path(path).exists():
        return
    try:
        conn = connect(path)
    except StoreError as exc:
        raise StoreError(f"{exc}; if the file is damaged, run `edgectl db recover`") from exc
    try:
        problems = quick_check(conn)
    finally:
        conn.close()
    if problems:
        raise StoreError(
            f"database {path} is damaged ({'; '.join(problems)}); nothing was started. "
            "Run `edgectl db recover` (same --config) to salvage it into a new file"
        )


@dataclass(slots=True)
class Salvage:
    rows: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)  # pages skipped, per table
    journal_seq: int = 0
    orphans: int = 0
    problems: list[str] = field(default_factory=list)  # quick_check of the result


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return [r[0] for r in rows]


def _read(
    conn: sqlite3.Connection, table: str, cols: list[str], skipped: list[int]
) -> Iterator[tuple[object, ...]]:
    """Every readable row of ``table`` in rowid order; ``skipped`` counts unreadable runs."""
    select = ", ".join(f'"{c}"' for c in cols)
    query = f'SELECT rowid, {select} FROM "{table}" NOT INDEXED WHERE rowid > ? ORDER BY rowid LIMIT {CHUNK}'
    after = -MAX_SKIP
    while True:
        try:
            rows = conn.execute(query, (after,)).fetchall()
        except sqlite3.DatabaseError:
            rows = None
        if rows is None:
            skipped[0] += 1
            step = 1
            while rows is None and step < MAX_SKIP:
                after += step
                step *= 2
                try:
                    rows = conn.execute(query, (after,)).fetchall()
                except sqlite3.DatabaseError:
                    rows = None
            if rows is None:
                return
        if not rows:
            return
        for row in rows:
            yield tuple(row[1:])
        after = rows[-1][0]


def salvage(src: Path, dst: Path) -> Salvage:
    """Copy what can be read from the store ``src`` into a new store at ``dst``."""
    report = Salvage()
    old = sqlite3.connect(src)  # the copy: no pragmas, nothing written to it on purpose
    new = open_store(dst)
    try:
        new.execute("PRAGMA foreign_keys = OFF")
        try:
            old_tables = set(_tables(old))
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"the schema of {src} cannot be read ({exc}); nothing to salvage"
            ) from None
        new.execute("BEGIN IMMEDIATE")
        for table in _tables(new):
            if table not in old_tables:
                continue
            have = set(_columns(old, table))
            cols = [c for c in _columns(new, table) if c in have]
            skipped = [0]
            marks = ", ".join("?" * len(cols))
            names = ", ".join(f'"{c}"' for c in cols)
            # kv is the store's identity (journal epoch, sync cursor): the damaged store's
            # values win over those the new store's migrations chose (a new journal epoch).
            conflict = "REPLACE" if table == "kv" else "IGNORE"
            cur = new.executemany(
                f'INSERT OR {conflict} INTO "{table}" ({names}) VALUES ({marks})',
                _read(old, table, cols, skipped),
            )
            report.rows[table] = max(cur.rowcount, 0)
            if skipped[0]:
                report.unreadable[table] = skipped[0]
        report.journal_seq = _keep_seq(old, new)
        new.execute("COMMIT")
        report.orphans = len(new.execute("PRAGMA foreign_key_check").fetchall())
        report.problems = quick_check(new)
    finally:
        if new.in_transaction:
            new.execute("ROLLBACK")
        old.close()
        new.close()
    return report


def _keep_seq(old: sqlite3.Connection, new: sqlite3.Connection) -> int:
    try:
        row = old.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
        old_seq = int(row[0]) if row else 0
    except sqlite3.DatabaseError:
        old_seq = 0
    top = new.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
    seq = max(old_seq, int(top))
    new.execute("DELETE FROM sqlite_sequence WHERE name = 'journal'")
    new.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('journal', ?)", (seq,))
    return seq


def recover(path: Path, now: datetime | None = None) -> tuple[Salvage, Path]:
    """Salvage the store at ``path`` in place; return the report and where the damaged
    files were moved. The caller holds the store lock."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    damaged = path.with_name(f"{path.name}.damaged-{stamp}")
    work = path.with_name(f"{path.name}.recovering")
    for suffix in ("", *SIDE_FILES):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy2(f"{path}{suffix}", f"{damaged}{suffix}")
    report = salvage(damaged, work)
    for suffix in SIDE_FILES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    work.replace(path)  # the store is never missing: a daemon could create a fresh one
    for suffix in SIDE_FILES:
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    return report, damaged
