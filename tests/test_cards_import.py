"""Property: a CSV import applies every row or none, and names exactly the bad lines."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from edgectl.site.actor import Actor
from edgectl.site.service import SiteService
from edgectl.store.journal import read_entries
from tests.access_site import access_site

ZONE = ZoneInfo("Asia/Shanghai")
ADMIN = Actor("admin", "cli")
GOOD, BAD_NUMBER, NO_PERSON, INVERTED, DATE_ONLY, REPEAT, BAD_ROLE = range(7)
kinds = st.lists(st.sampled_from(range(7)), min_size=1, max_size=40)


def rows_for(plan: list[int]) -> tuple[list[list[str]], set[int]]:
    """CSV rows and the line numbers that must be reported (header is line 1)."""
    rows, bad, numbers = [], set(), []
    for i, kind in enumerate(plan):
        line, number = i + 2, str(1000 + i)
        row = [f"p{i}", "resident", number, "", ""]
        if kind == BAD_NUMBER:
            row[2] = f"{number}x"
        elif kind == NO_PERSON:
            row[0] = ""
        elif kind == INVERTED:
            row[3:5] = ["2026-02-01T00:00", "2026-01-31T23:59:59"]
        elif kind == DATE_ONLY:
            row[3] = "2026-02-01"
        elif kind == REPEAT and numbers:
            row[2] = numbers[0]  # same card as the first good row, open windows overlap
        elif kind == BAD_ROLE:
            row[1] = "landlord"
        if kind != GOOD and not (kind == REPEAT and not numbers):
            bad.add(line)
        elif not numbers:
            numbers.append(row[2])
        rows.append(row)
    return rows, bad


@settings(max_examples=60, deadline=None)
@given(kinds, st.booleans())
def test_all_or_nothing_with_exact_line_numbers(plan: list[int], skip_bad: bool) -> None:
    rows, bad = rows_for(plan)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cards.csv"
        with path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["person_id", "role", "number", "valid_from", "valid_until"])
            out.writerows(rows)
        site = SiteService.open(access_site(Path(tmp)))
        result = site.import_cards(path, actor=ADMIN, skip_bad=skip_bad)
        stored = site.conn.execute("SELECT count(*) FROM credentials").fetchone()[0]
        audits = read_entries(site.conn, 0, 100)
        site.close()
    assert {e.line for e in result.errors} == bad
    assert result.rows == len(rows)
    if bad and not skip_bad:
        assert stored == 0
        assert audits == []  # nothing applied, nothing audited
    else:
        assert stored == result.imported == len(rows) - len(bad)
        # ONE audit event for the whole import: who, where, which file, how many
        assert [(a.kind, a.body["actor"], a.body["interface"]) for a in audits] == [
            ("site_changed", "admin", "cli")
        ]
        assert audits[0].body["details"]["count"] == result.imported
        assert audits[0].body["details"]["file"] == "cards.csv"


def test_a_file_without_a_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cards.csv"
    path.write_text("number,facility\n1,2\n")
    site = SiteService.open(access_site(tmp_path))
    result = site.import_cards(path, actor=ADMIN)
    assert str(result.errors[0]).startswith("line 1: missing the person_id column; columns are")
    assert site.conn.execute("SELECT count(*) FROM credentials").fetchone()[0] == 0
