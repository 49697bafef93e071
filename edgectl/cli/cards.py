"""``edgectl cards``: add, list, revoke and import people's credentials."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from edgectl.cli.common import (
    ConfigOption,
    console,
    err_console,
    fail,
    load_or_exit,
    open_db,
    open_site,
    plain,
    site_change,
)
from edgectl.site.actor import Actor
from edgectl.store import pinkeys
from edgectl.store.card_import import count_rows
from edgectl.store.cardnum import loaded
from edgectl.store.credentials import credential_values, find_card, parse_when

app = typer.Typer(help="People and their credentials: cards, PINs, plates.", no_args_is_help=True)

MAX_ERRORS_SHOWN = 50


def _card(text: str) -> tuple[int | None, int]:
    facility, _, number = text.rpartition(":")
    try:
        return (int(facility) if facility else None), int(number)
    except ValueError:
        raise fail(f"--card: expected FACILITY:NUMBER or NUMBER, got {text!r}", 2) from None


@app.command("add")
def add(
    person: str = typer.Argument(..., help="Person id (created if new)."),
    card: str = typer.Option("", "--card", help="Card as FACILITY:NUMBER (or NUMBER)."),
    pin: str = typer.Option("", "--pin", help="PIN (with --card: card plus PIN)."),
    duress_pin: str = typer.Option("", "--duress-pin", help="PIN that grants and alarms."),
    plate: str = typer.Option("", "--plate", help="Vehicle plate."),
    name: str = typer.Option("", "--name", help="The person's name, as staff know them."),
    role: str = typer.Option(
        "resident", "--role", help="resident, staff, guard, contractor or visitor."
    ),
    level: list[str] = typer.Option([], "--level", "-l", help="Access level id (repeatable)."),
    valid_from: str = typer.Option("", "--from", help="Valid from (date and time, site local)."),
    valid_until: str = typer.Option("", "--until", help="Valid until (date and time)."),
    fmt: str = typer.Option("h10301", "--format", help="Wiegand format of the card."),
    config: Path = ConfigOption,
) -> None:
    """Add a credential for a person."""
    cfg = load_or_exit(config)
    facility, number = _card(card) if card else (None, None)
    kind = "card_pin" if card and pin else "card" if card else "pin" if pin else "plate"
    if not (card or pin or plate):
        raise fail("give --card, --pin or --plate", 2)
    with closing(open_site(cfg)) as site:
        try:
            values = credential_values(
                kind,
                format=fmt,
                facility=facility,
                number=number,
                pin=pin or None,
                duress_pin=duress_pin or None,
                plate=plate or None,
                valid_from=parse_when(valid_from, cfg.site.zone) if valid_from else None,
                valid_until=parse_when(valid_until, cfg.site.zone) if valid_until else None,
                key=pinkeys.current_key(pinkeys.keyring_path(cfg.store.path)) if pin else None,
            )
            cred_id = site.add_credential(  # person, credential and levels: all or nothing
                person,
                values,
                actor=Actor.cli(),
                create_person={"name": name, "role": role},
                levels=level,
            )
        except ValueError as exc:  # CredentialError included
            raise fail(str(exc)) from None
    plain(f"added {values.label()} for {person} (id {cred_id})")


@app.command("list")
def list_cards(
    person: str = typer.Option("", "--person", "-p", help="Only this person's credentials."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many credentials to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    config: Path = ConfigOption,
) -> None:
    """List credentials (newest first)."""
    cfg = load_or_exit(config)
    where, args = ("WHERE c.person_id = ?", [person]) if person else ("", [])
    with closing(open_db(cfg)) as conn:
        rows = conn.execute(
            "SELECT c.id, c.person_id, p.name, p.role, c.kind, c.facility, c.number, c.secret, "
            "c.status, c.valid_from, c.valid_until FROM credentials c "
            f"JOIN people p ON p.id = c.person_id {where} ORDER BY c.id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
    keys: tuple[str, ...] = ("id", "person", "name", "role", "kind", "facility", "number")
    keys += ("secret", "status", "valid_from", "valid_until")
    if as_json:
        for row in rows:
            item = dict(zip(keys, row, strict=True))
            item["number"] = loaded(item["number"])
            if item["kind"] == "pin":
                item["secret"] = None
            print(json.dumps(item))
        return
    table = Table("id", "person", "name", "role", "credential", "status", "valid")
    for r in rows:
        cred = f"{r[5]}:{loaded(r[6])}" if r[4] in ("card", "card_pin") else r[4]
        if r[4] in ("plate", "visitor"):
            cred = f"{r[4]} {r[7]}"
        cells = (str(r[0]), r[1], r[2], r[3], cred, r[8], f"{r[9] or '-'} .. {r[10] or '-'}")
        table.add_row(*(Text(str(c)) for c in cells))  # stored text is never markup
    console.print(table)


@app.command("revoke")
def revoke(
    card: str = typer.Option("", "--card", help="Card as FACILITY:NUMBER."),
    person: str = typer.Option("", "--person", help="Revoke all of a person's credentials."),
    cred_id: int = typer.Option(0, "--id", help="Credential id."),
    status: str = typer.Option("revoked", "--status", help="revoked, suspended or active."),
    config: Path = ConfigOption,
) -> None:
    """Revoke (or suspend, or reactivate) a credential, or all of a person's (move-out)."""
    cfg = load_or_exit(config)
    with site_change(cfg) as site:
        if person:
            count = site.revoke_person(person, actor=Actor.cli())
            if not count:
                raise fail(f"no active credentials for {person!r}")
            plain(f"revoked {count} credential(s) of {person}")
            return
        if card:
            found = find_card(site.conn, *_card(card))
            if found is None:
                raise fail(f"no card {card}")
            cred_id = found
        if not cred_id or not site.set_credential_status(cred_id, status, actor=Actor.cli()):
            raise fail("give --card, --person or an existing --id", 2)
    plain(f"credential {cred_id}: {status}")


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., help="CSV file with a header row.", exists=True),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Import good rows, skip bad ones."),
    encoding: str = typer.Option(
        "auto",
        "--encoding",
        help="utf-8, utf-16 or gb18030 (Excel on Chinese Windows); a byte order mark decides.",
    ),
    config: Path = ConfigOption,
) -> None:
    """Import people and credentials from CSV: all rows, or none if any row is bad."""
    cfg = load_or_exit(config)
    total = count_rows(file)
    with (
        closing(open_site(cfg)) as site,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("checking rows", total=total)
        result = site.import_cards(
            file,
            actor=Actor.cli(),
            skip_bad=skip_bad,
            progress=lambda n: bar.advance(task, n),
            encoding=encoding,
        )
    for error in result.errors[:MAX_ERRORS_SHOWN]:
        plain(f"{file}: {error}", err=True)
    if len(result.errors) > MAX_ERRORS_SHOWN:
        err_console.print(f"... and {len(result.errors) - MAX_ERRORS_SHOWN} more bad rows")
    if result.unreadable:
        raise fail(f"{file} is not readable as CSV text; nothing imported")
    if result.errors and not skip_bad:
        raise fail(
            f"{len(result.errors)} bad row(s) in {file}; nothing imported "
            "(fix them, or use --skip-bad to import the good rows)"
        )
    skipped = f", skipped {len(result.errors)} bad row(s)" if result.errors else ""
    plain(f"imported {result.imported} credential(s) from {file}{skipped}")
