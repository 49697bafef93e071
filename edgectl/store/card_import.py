"""Import people and credentials from CSV: all rows or none (unless bad rows are skipped).

The file is read once, row by row, into TEMP staging tables; every row is checked on the
way in, and duplicates (within the file and against the database) are found with indexed
joins. Only if nothing is wrong (or ``skip_bad`` drops the bad rows) does the site service copy
the staging into the real tables, in one short transaction with one audit event, so the
daemon's journal is held up only for the copy and nothing is ever half applied.

Columns (header row required, any order; only ``person_id`` and the credential's own
fields are required): person_id, name, role, kind, format, facility, number, pin,
duress_pin, plate, valid_from, valid_until, status, levels (``;``-separated level ids).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

from edgectl.config import ROLES
from edgectl.store import pinkeys
from edgectl.store.cardnum import loaded, stored
from edgectl.store.credentials import CREDENTIAL_COLUMNS, credential_values, parse_when
from edgectl.store.csv_text import Rows, TextError, csv_rows

COLUMNS = (
    "person_id",
    "name",
    "role",
    "kind",
    "format",
    "facility",
    "number",
    "pin",
    "duress_pin",
    "plate",
    "valid_from",
    "valid_until",
    "status",
    "levels",
)
CHUNK = 5000
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True, order=True)
class RowError:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass(slots=True)
class ImportResult:
    rows: int = 0  # data rows read
    imported: int = 0  # credentials added
    errors: list[RowError] = field(default_factory=list)
    unreadable: bool = False  # the file itself is not CSV text: nothing was imported

    @property
    def applied(self) -> bool:
        return self.imported > 0


def count_rows(path: Path) -> int:
    """Data rows in the file, for the progress bar (a fast newline count)."""
    with path.open("rb") as f:
        lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    return max(0, lines - 1)


def _int(text: str, name: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}: expected an integer, got {text!r}") from None


def _when(text: str, name: str, zone: ZoneInfo) -> datetime | None:
    try:
        return parse_when(text, zone) if text else None
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS stage (
    line INTEGER PRIMARY KEY, person_id TEXT, name TEXT, role TEXT, kind TEXT, format TEXT,
    facility INTEGER, number INTEGER, secret TEXT, pin TEXT, duress TEXT, status TEXT,
    valid_from TEXT, valid_until TEXT);
CREATE TEMP TABLE IF NOT EXISTS stage_levels (line INTEGER, person_id TEXT, level_id TEXT);
DELETE FROM stage;
DELETE FROM stage_levels;
"""


class _Stager:
    def __init__(self, conn: sqlite3.Connection, zone: ZoneInfo, header: list[str]) -> None:
        self.conn = conn
        self.zone = zone
        self.col = {name: i for i, name in enumerate(header)}
        self.levels = {r[0] for r in conn.execute("SELECT id FROM access_levels")}
        self.errors: list[RowError] = []
        self._key: bytes | None = None

    def pin_key(self) -> bytes:
        if self._key is None:
            self._key = pinkeys.current_key(pinkeys.keyring_for(self.conn))
        return self._key

    def row(self, line: int, fields: list[str]) -> tuple[tuple[object, ...], list[str]] | None:
        def get(name: str) -> str:
            i = self.col.get(name)
            return fields[i].strip() if i is not None and i < len(fields) else ""

        try:
            if len(fields) != len(self.col):
                raise ValueError(f"expected {len(self.col)} fields, got {len(fields)}")
            person = get("person_id")
            if not person:
                raise ValueError("person_id: missing")
            role = get("role") or "resident"
            if role not in ROLES:
                raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
            vf, vu = get("valid_from"), get("valid_until")
            values = credential_values(
                get("kind") or "card",
                format=get("format") or "h10301",
                facility=_int(get("facility"), "facility"),
                number=_int(get("number"), "number"),
                pin=get("pin") or None,
                duress_pin=get("duress_pin") or None,
                plate=get("plate") or None,
                status=get("status") or "active",
                valid_from=_when(vf, "valid_from", self.zone),
                valid_until=_when(vu, "valid_until", self.zone),
                key=self.pin_key() if get("pin") else None,
            )
            levels = [lv for lv in get("levels").split(";") if lv]
            unknown = [lv for lv in levels if lv not in self.levels]
            if unknown:
                raise ValueError(f"levels: no access level {', '.join(unknown)}")
        except ValueError as exc:
            self.errors.append(RowError(line, str(exc)))
            return None
        v = values
        number = None if v.number is None else stored(v.number)
        staged = (line, person, get("name"), role, v.kind, v.format, v.facility, number)
        return (*staged, v.secret, v.pin, v.duress, v.status, v.valid_from, v.valid_until), levels

    def stage(self, chunk: list[tuple[int, list[str]]]) -> None:
        rows: list[tuple[object, ...]] = []
        levels: list[tuple[object, ...]] = []
        for line, fields in chunk:
            staged = self.row(line, fields)
            if staged is not None:
                rows.append(staged[0])
                levels.extend((line, staged[0][1], lv) for lv in staged[1])
        self.conn.executemany(f"INSERT INTO stage VALUES ({','.join('?' * 14)})", rows)
        self.conn.executemany("INSERT INTO stage_levels VALUES (?, ?, ?)", levels)


def _lines(reader: Rows, first: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields); a record spanning lines is numbered by its first line."""
    line = first
    for fields in reader:
        yield line + 1, fields
        line = reader.line_num


_CARD_DUPES = """
SELECT a.line, b.line, a.valid_from, a.valid_until, b.valid_from, b.valid_until,
       a.facility, a.number
FROM stage a JOIN stage b ON b.number = a.number AND b.facility IS a.facility
    AND b.line < a.line AND b.kind IN ('card', 'card_pin')
WHERE a.kind IN ('card', 'card_pin')
"""
_SECRET_DUPES = """
SELECT a.line, b.line, a.kind, a.secret FROM stage a JOIN stage b
    ON b.secret = a.secret AND b.kind = a.kind AND b.line < a.line
WHERE a.secret IS NOT NULL
"""
_CARD_TAKEN = """
SELECT s.line, c.id, c.person_id, s.facility, s.number FROM stage s JOIN main.credentials c
    ON c.number = s.number AND c.facility IS s.facility AND c.kind IN ('card', 'card_pin')
WHERE s.kind IN ('card', 'card_pin')
"""
_SECRET_TAKEN = """
SELECT s.line, c.id, c.person_id, s.kind FROM stage s JOIN main.credentials c
    ON c.secret = s.secret AND c.kind = s.kind
WHERE s.secret IS NOT NULL
"""


def _overlap(
    a_from: str | None, a_until: str | None, b_from: str | None, b_until: str | None
) -> bool:
    lo = max(a_from or "", b_from or "")
    return lo < min(a_until or "~", b_until or "~")


def _card(facility: int | None, number: int | bytes) -> str:
    return f"{facility}:{loaded(number)}" if facility is not None else str(loaded(number))


def _duplicates(conn: sqlite3.Connection) -> list[RowError]:
    conn.execute("CREATE INDEX IF NOT EXISTS temp.stage_card ON stage (number, facility)")
    conn.execute("CREATE INDEX IF NOT EXISTS temp.stage_secret ON stage (secret, kind)")
    errors: dict[int, RowError] = {}
    for line, first, af, au, bf, bu, facility, number in conn.execute(_CARD_DUPES):
        if line in errors:
            continue
        card = _card(facility, number)
        what = "overlapping validity window" if _overlap(af, au, bf, bu) else "duplicate card"
        errors[line] = RowError(line, f"{what}: card {card} is also on line {first}")
    for line, first, kind, _ in conn.execute(_SECRET_DUPES):
        errors.setdefault(line, RowError(line, f"duplicate {kind}: also on line {first}"))
    for line, cid, person, facility, number in conn.execute(_CARD_TAKEN):
        card = _card(facility, number)
        errors.setdefault(
            line, RowError(line, f"duplicate card {card}: already held by {person} (id {cid})")
        )
    for line, cid, person, kind in conn.execute(_SECRET_TAKEN):
        errors.setdefault(
            line, RowError(line, f"duplicate {kind}: already held by {person} (id {cid})")
        )
    return list(errors.values())


def apply_staged(conn: sqlite3.Connection, now: datetime) -> int:
    """Copy the staged rows into the real tables, inside the caller's transaction (the site
    service's ``import_cards``, which adds the audit event); the credentials added."""
    conn.execute(
        "INSERT INTO people (id, name, role) SELECT person_id, name, role FROM stage "
        "WHERE true ORDER BY line ON CONFLICT (id) DO UPDATE SET role = excluded.role, "
        "name = CASE WHEN excluded.name != '' THEN excluded.name ELSE people.name END"
    )
    cur = conn.execute(
        f"INSERT INTO credentials ({CREDENTIAL_COLUMNS}) SELECT kind, format, facility, number, "
        "secret, pin, duress, status, valid_from, valid_until, person_id, ? FROM stage "
        "ORDER BY line",
        (now.isoformat(),),
    )
    added = cur.rowcount
    conn.execute(
        "INSERT OR IGNORE INTO person_levels SELECT person_id, level_id FROM stage_levels "
        "WHERE line IN (SELECT line FROM stage)"
    )
    return added


def _read(
    conn: sqlite3.Connection,
    reader: Rows,
    zone: ZoneInfo,
    result: ImportResult,
    progress: Progress | None,
) -> _Stager | None:
    """Stage every row; None (with the error in ``result``) if the header is wrong."""
    header = [h.strip().lower() for h in next(reader, [])]
    unknown = [h for h in header if h not in COLUMNS]
    if not header or unknown or "person_id" not in header:
        problem = (
            f"unknown columns {unknown}"
            if unknown
            else "missing the person_id column"
            if header
            else "expected a header row"
        )
        result.errors.append(
            RowError(1, f"{problem}; columns are: {', '.join(COLUMNS)} (person_id required)")
        )
        return None
    stager = _Stager(conn, zone, header)
    lines = _lines(reader, reader.line_num)
    while chunk := list(islice(lines, CHUNK)):
        stager.stage(chunk)
        result.rows += len(chunk)
        if progress:
            progress(len(chunk))
    return stager


def clear_stage(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM stage")
    conn.execute("DELETE FROM stage_levels")


def stage_csv(
    conn: sqlite3.Connection,
    path: Path,
    zone: ZoneInfo,
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
    encoding: str = "auto",
) -> ImportResult:
    """Check every row of ``path`` into the staging tables; report the bad ones.

    With ``skip_bad`` the bad rows are dropped from the staging, so the good ones can be
    applied (``apply_staged``). Naive times in the file are site local time (``zone``). A
    file that is not CSV text in ``encoding`` (see csv_text) stages nothing, even with
    ``skip_bad``.
    """
    result = ImportResult()
    for statement in _STAGE.split(";"):
        if statement.strip():
            conn.execute(statement)
    try:
        with csv_rows(path, encoding) as reader:
            staged = _read(conn, reader, zone, result, progress)
    except TextError as exc:
        result.errors.append(RowError(exc.line, exc.problem))
        result.unreadable = True
        return result
    if staged is None:
        return result
    result.errors = sorted([*staged.errors, *_duplicates(conn)])
    if result.errors and not skip_bad:
        return result
    if result.errors:
        conn.executemany("DELETE FROM stage WHERE line = ?", [(e.line,) for e in result.errors])
    return result
