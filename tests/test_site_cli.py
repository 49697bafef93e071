"""Site data from the CLI: levels, people, visitors, schedules and holidays, each change
through the site service with a ``site_changed`` audit event naming the CLI user."""

from __future__ import annotations

import getpass
import json
import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from edgectl.cli import levels
from tests.access_site import access_site
from tests.cli_helpers import edgectl

OFFICE = {
    "id": "office",
    "mon": ["08:00-18:00"],
    "holidays": [{"type": "national", "segments": []}],
}


def audits(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT body FROM journal WHERE kind = 'site_changed' ORDER BY seq")
        return [json.loads(r[0]) for r in rows]


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def site(tmp_path: Path) -> tuple[str, Path]:
    cfg = access_site(
        tmp_path,
        holiday_types=["national"],
        holidays=[{"date": "2026-10-01", "type": "national"}],
        schedules=[OFFICE],
    )
    return str(tmp_path / "config.toml"), Path(cfg.store.path)


def test_levels_people_grant_revoke_move_out_all_audited(tmp_path: Path) -> None:
    conf, db = site(tmp_path)
    add = edgectl("levels", "add", "residents", "-t", "gate-main", "-t", "door-lobby", "-c", conf)
    assert add.returncode == 0, add.stderr
    assert "gate-main, door-lobby on schedule always" in add.stdout
    bad = edgectl("levels", "add", "x", "-t", "gate-9", "-s", "office", "-c", conf)
    assert bad.returncode == 2 and "no door or gate gate-9" in bad.stderr
    bad = edgectl("levels", "add", "x", "-t", "gate-main", "-s", "nights", "-c", conf)
    assert bad.returncode == 2 and "unknown schedule 'nights'" in bad.stderr
    assert edgectl("levels", "add", "staff", "-t", "*", "-s", "office", "-c", conf).returncode == 0

    # a person with an unknown level is not added at all
    bad = edgectl("people", "add", "res-1", "-l", "residents", "-l", "nope", "-c", conf)
    assert bad.returncode == 1 and "no access level 'nope'" in bad.stderr
    ok = edgectl("people", "add", "res-1", "--name", "Mr Chen", "-l", "residents", "-c", conf)
    assert ok.returncode == 0, ok.stderr
    dup = edgectl("people", "add", "res-1", "-c", conf)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    assert edgectl("people", "grant", "res-1", "staff", "-c", conf).returncode == 0
    assert edgectl("cards", "add", "res-1", "--card", "12:1001", "-c", conf).returncode == 0

    levels = {lv["id"]: lv for lv in lines(edgectl("levels", "list", "--json", "-c", conf).stdout)}
    assert levels["residents"]["targets"] == ["door-lobby", "gate-main"]
    assert levels["staff"] == {
        "id": "staff", "name": "", "schedule": "office", "targets": ["*"], "people": 1,
    }  # fmt: skip
    [person] = lines(edgectl("people", "list", "--json", "-c", conf).stdout)
    assert person == {
        "id": "res-1", "name": "Mr Chen", "role": "resident",
        "levels": ["residents", "staff"], "active": 1,
    }  # fmt: skip

    held = edgectl("levels", "remove", "staff", "-c", conf)
    assert held.returncode == 1 and "held by 1 people" in held.stderr
    assert edgectl("people", "revoke", "res-1", "staff", "-c", conf).returncode == 0
    again = edgectl("people", "revoke", "res-1", "staff", "-c", conf)
    assert again.returncode == 1 and "does not hold level 'staff'" in again.stderr
    assert edgectl("levels", "remove", "staff", "-c", conf).returncode == 0

    out = edgectl("people", "move-out", "res-1", "-c", conf)
    assert out.returncode == 0 and "revoked 1 credential(s)" in out.stdout
    shown = json.loads(edgectl("people", "show", "res-1", "--json", "-c", conf).stdout)
    assert [c["status"] for c in shown["credentials"]] == ["revoked"]
    assert shown["credentials"][0]["credential"] == "card 12:1001"

    actions = [(a["action"], a["subject"]) for a in audits(db)]
    assert actions == [
        ("level_define", "level residents"),
        ("level_define", "level staff"),
        ("person_add", "person res-1"),
        ("level_grant", "person res-1"),
        ("credential_add", "card 12:1001"),
        ("level_remove", "person res-1"),
        ("level_delete", "level staff"),
        ("person_revoke", "person res-1"),
    ]
    assert {(a["actor"], a["interface"]) for a in audits(db)} == {(getpass.getuser(), "cli")}


def test_visitor_code_is_printed_once_and_move_out_revokes_hosted_passes(tmp_path: Path) -> None:
    conf, db = site(tmp_path)
    assert edgectl("people", "add", "res-1", "-c", conf).returncode == 0
    issued = edgectl("visitors", "issue", "Wang Wei", "--host", "res-1", "-c", conf)
    assert issued.returncode == 0, issued.stderr
    code = issued.stdout.split("visitor code: ")[1].split()[0]
    assert code.isdigit() and len(code) == 8
    assert "for Wang Wei, host res-1" in issued.stdout and "at gate-main" in issued.stdout
    second = edgectl(
        "visitors", "issue", "Li Na", "--host", "res-1", "-g", "door-lobby", "-c", conf
    )
    assert second.returncode == 0, second.stderr

    listed = edgectl("visitors", "list", "--json", "-c", conf)
    passes = lines(listed.stdout)
    assert [(v["visitor"], v["host"], v["targets"]) for v in passes] == [
        ("Li Na", "res-1", ["door-lobby"]),
        ("Wang Wei", "res-1", ["gate-main"]),
    ]
    table = edgectl("visitors", "list", "-c", conf)
    shown = edgectl("people", "show", "res-1", "--json", "-c", conf)
    people = edgectl("people", "list", "--json", "-c", conf)
    for out in (listed, table, shown, people):
        assert code not in out.stdout
    assert code not in json.dumps(audits(db))

    revoked = edgectl("visitors", "revoke", "--code", code, "-c", conf)
    assert revoked.returncode == 0, revoked.stderr
    assert edgectl("visitors", "revoke", "--code", code, "-c", conf).returncode == 1
    assert [
        v["visitor"] for v in lines(edgectl("visitors", "list", "--json", "-c", conf).stdout)
    ] == ["Li Na"]
    past = edgectl(
        "visitors", "issue", "X", "--host", "res-1", "--until", "2020-01-01T08:00", "-c", conf
    )
    assert past.returncode == 2 and "expire before it starts" in past.stderr
    nohost = edgectl("visitors", "issue", "X", "--host", "res-9", "-c", conf)
    assert nohost.returncode == 2 and "no resident 'res-9'" in nohost.stderr

    moved = edgectl("people", "move-out", "res-1", "-c", conf)
    assert moved.returncode == 0 and "revoked 1" in moved.stdout  # Li Na's pass
    assert lines(edgectl("visitors", "list", "--json", "-c", conf).stdout) == []


def test_schedules_and_holidays_list_the_config(tmp_path: Path) -> None:
    conf, _ = site(tmp_path)
    schedules = lines(edgectl("schedules", "list", "--json", "-c", conf).stdout)
    assert [(s["id"], s["source"]) for s in schedules] == [
        ("always", "built in"), ("never", "built in"), ("office", "config"),
    ]  # fmt: skip
    assert schedules[2]["mon"] == ["08:00-18:00"] and schedules[2]["holidays"] == {"national": []}
    assert schedules[2]["windows"] == ["mon 08:00-18:00"]
    table = edgectl("schedules", "list", "-c", conf)
    assert "08:00-18:00" in table.stdout and "national: closed" in table.stdout
    holidays = lines(edgectl("holidays", "list", "--json", "-c", conf).stdout)
    assert holidays == [{"date": "2026-10-01", "type": "national", "name": "", "source": "config"}]
    assert "access.schedules tables" in edgectl("schedules", "--help").stdout


def test_schedules_and_holidays_added_from_the_cli_are_audited_site_data(tmp_path: Path) -> None:
    conf, db = site(tmp_path)
    add = edgectl(
        "schedules", "add", "day", "-w", "mon-fri 07:00-19:00", "-w", "sat,sun 09:00-12:00",
        "--name", "Day staff", "-c", conf,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    assert "schedule day: mon-fri 07:00-19:00; sat-sun 09:00-12:00 (Asia/Shanghai)" in add.stdout
    assert edgectl("levels", "add", "staff", "-t", "*", "-s", "day", "-c", conf).returncode == 0
    [listed] = [s for s in lines(edgectl("schedules", "list", "--json", "-c", conf).stdout)
                if s["source"] == "site"]  # fmt: skip
    assert listed["id"] == "day" and listed["name"] == "Day staff"
    assert listed["windows"] == ["mon-fri 07:00-19:00", "sat-sun 09:00-12:00"]
    assert listed["fri"] == ["07:00-19:00"] and listed["holidays"] == {}
    table = edgectl("schedules", "list", "-c", conf).stdout
    assert "site" in table and "mon-fri 07:00-19:00; sat-sun 09:00-12:00" in table

    add = edgectl("holidays", "add", "2026-12-25", "--name", "Christmas", "-c", conf)
    assert add.returncode == 0 and "holiday 2026-12-25 (holiday) Christmas" in add.stdout
    typed = edgectl("holidays", "add", "2026-10-02", "--type", "national", "-c", conf)
    assert typed.returncode == 0, typed.stderr
    assert lines(edgectl("holidays", "list", "--json", "-c", conf).stdout) == [
        {"date": "2026-10-01", "type": "national", "name": "", "source": "config"},
        {"date": "2026-10-02", "type": "national", "name": "", "source": "site"},
        {"date": "2026-12-25", "type": "holiday", "name": "Christmas", "source": "site"},
    ]

    def refused(code: int, problem: str, app: str, *args: str) -> None:
        """In process (the same typer commands; ~4 s a subprocess on a busy machine)."""
        typer_app = levels.schedules_app if app == "schedules" else levels.holidays_app
        result = CliRunner().invoke(typer_app, [*args, "-c", conf])
        assert result.exit_code == code and f"error: {problem}" in result.stderr, result.output

    refused(
        2,
        "window 'mon-fir 07:00-19:00': unknown day 'fir'",
        "schedules",
        "add",
        "x",
        "-w",
        "mon-fir 07:00-19:00",
    )
    refused(
        2,
        "window 'mon 19:00-07:00': segment '19:00-07:00' ends before it starts",
        "schedules",
        "add",
        "x",
        "-w",
        "mon 19:00-07:00",
    )
    refused(2, "schedule 'day' already exists", "schedules", "add", "day", "-w", "mon 07:00-08:00")
    refused(
        2,
        "schedule 'office' is defined in the site config",
        "schedules",
        "add",
        "office",
        "-w",
        "mon 07:00-08:00",
    )
    refused(
        2, "schedule id: 'never' is built in", "schedules", "add", "never", "-w", "mon 07:00-08:00"
    )
    refused(1, "schedule 'day' is used by access level(s) staff", "schedules", "remove", "day")
    refused(
        1,
        "schedule 'office' is built in or defined in the site config (access.schedules): "
        "the CLI cannot remove it",
        "schedules",
        "remove",
        "office",
    )
    refused(1, "no schedule 'nope'", "schedules", "remove", "nope")
    refused(2, "date: expected YYYY-MM-DD, got '25/12/2026'", "holidays", "add", "25/12/2026")
    refused(2, "2026-12-25 is already a holiday", "holidays", "add", "2026-12-25")
    refused(2, "2026-10-01 is a holiday in the site config", "holidays", "add", "2026-10-01")
    refused(
        2,
        "type: unknown holiday type 'bank'; expected holiday, national",
        "holidays",
        "add",
        "2026-12-26",
        "--type",
        "bank",
    )
    refused(
        1,
        "2026-10-01 is a holiday in the site config (access.holidays): the CLI cannot",
        "holidays",
        "remove",
        "2026-10-01",
    )
    refused(1, "no holiday on 2026-12-31", "holidays", "remove", "2026-12-31")
    missing = edgectl("schedules", "add", "x", "-c", conf)
    assert missing.returncode == 2 and "--window" in missing.stderr

    assert edgectl("levels", "remove", "staff", "-c", conf).returncode == 0
    assert edgectl("schedules", "remove", "day", "-c", conf).returncode == 0
    assert edgectl("holidays", "remove", "2026-12-25", "-c", conf).returncode == 0
    assert [s["id"] for s in lines(edgectl("schedules", "list", "--json", "-c", conf).stdout)] == [
        "always", "never", "office",
    ]  # fmt: skip

    changes = [(a["action"], a["subject"], a["details"]) for a in audits(db)]
    assert changes == [
        ("schedule_add", "schedule day",
         {"name": "Day staff", "windows": ["mon-fri 07:00-19:00", "sat-sun 09:00-12:00"]}),
        ("level_define", "level staff", {"targets": ["*"], "schedule": "day"}),
        ("holiday_add", "holiday 2026-12-25", {"type": "holiday", "name": "Christmas"}),
        ("holiday_add", "holiday 2026-10-02", {"type": "national", "name": ""}),
        ("level_delete", "level staff", changes[4][2]),
        ("schedule_remove", "schedule day", {}),
        ("holiday_remove", "holiday 2026-12-25", {}),
    ]  # fmt: skip
    assert {(a["actor"], a["interface"]) for a in audits(db)} == {(getpass.getuser(), "cli")}
