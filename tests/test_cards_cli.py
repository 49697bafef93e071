"""``edgectl cards``: the real command line against a real SQLite store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.access_site import access_site
from tests.cli_helpers import edgectl

GOOD = """person_id,name,role,kind,facility,number,pin,plate,valid_from,valid_until,levels
p1,Wang Fang,resident,card,10,1,,,2026-01-01T00:00,2027-01-01T00:00,
p2,Chen Jie,staff,card_pin,10,2,4321,,,,
p3,,resident,plate,,,,沪A·12345,,,
"""

BAD = """person_id,name,kind,facility,number,valid_from,valid_until
p1,A,card,10,1,,
p2,B,card,10,x,,
p3,C,card,10,3,2026-05-01T08:00,2026-04-01T08:00
,D,card,10,4,,
p5,E,card,10,1,,
p6,F,card,10,6,2026-01-01T00:00,2026-03-01T00:00
p7,G,card,10,6,2026-02-01T00:00,2026-04-01T00:00
p8,H,badge,10,8,,
p9,I,card,10,9,2026-01-01,
p10,J,card,10,6,2026-05-01T00:00,2026-06-01T00:00
"""


def count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM credentials").fetchone()[0])


def test_import_all_good_rows_then_list_and_revoke(tmp_path: Path) -> None:
    cfg = access_site(tmp_path)
    conf = str(tmp_path / "config.toml")
    (tmp_path / "good.csv").write_text(GOOD)
    done = edgectl("cards", "import", str(tmp_path / "good.csv"), "-c", conf)
    assert done.returncode == 0, done.stderr
    assert "imported 3 credential(s)" in done.stdout
    listed = edgectl("cards", "list", "--json", "-c", conf)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {(r["person"], r["kind"], r["status"]) for r in rows} == {
        ("p1", "card", "active"),
        ("p2", "card_pin", "active"),
        ("p3", "plate", "active"),
    }
    assert next(r for r in rows if r["kind"] == "plate")["secret"] == "沪A12345"
    assert edgectl("cards", "revoke", "--card", "10:1", "-c", conf).returncode == 0
    again = edgectl("cards", "import", str(tmp_path / "good.csv"), "-c", conf)
    assert again.returncode == 1
    assert "line 2: duplicate card 10:1: already held by p1" in again.stderr
    assert count(Path(cfg.store.path)) == 3


def test_bad_rows_are_reported_by_line_and_nothing_is_applied(tmp_path: Path) -> None:
    cfg = access_site(tmp_path)
    conf = str(tmp_path / "config.toml")
    (tmp_path / "bad.csv").write_text(BAD)
    done = edgectl("cards", "import", str(tmp_path / "bad.csv"), "-c", conf)
    assert done.returncode == 1
    err = done.stderr
    for expected in (
        "line 3: number: expected an integer, got 'x'",
        "line 4: valid_until: the validity window ends before it starts",
        "line 5: person_id: missing",
        "line 6: overlapping validity window: card 10:1 is also on line 2",
        "line 8: overlapping validity window: card 10:6 is also on line 7",
        "line 9: kind: expected one of",
        "line 10: valid_from: expected a date and time",
        "line 11: duplicate card: card 10:6 is also on line 7",
        "nothing imported",
    ):
        assert expected in err, (expected, err)
    assert count(Path(cfg.store.path)) == 0
    skipped = edgectl("cards", "import", "--skip-bad", str(tmp_path / "bad.csv"), "-c", conf)
    assert skipped.returncode == 0, skipped.stderr
    assert "imported 2 credential(s)" in skipped.stdout and "skipped 8" in skipped.stdout
    assert count(Path(cfg.store.path)) == 2


def test_add_refuses_bad_input_with_a_clear_message(tmp_path: Path) -> None:
    access_site(tmp_path)
    conf = str(tmp_path / "config.toml")
    ok = edgectl("cards", "add", "p1", "--card", "10:5", "--pin", "1234", "-c", conf)
    assert ok.returncode == 0 and "card 10:5" in ok.stdout
    dup = edgectl("cards", "add", "p2", "--card", "10:5", "-c", conf)
    assert dup.returncode == 1 and "already registered" in dup.stderr
    window = edgectl(
        "cards",
        "add",
        "p3",
        "--card",
        "10:6",
        "--from",
        "2026-02-01T00:00",
        "--until",
        "2026-01-01T00:00",
        "-c",
        conf,
    )
    assert window.returncode == 1 and "ends before it starts" in window.stderr
