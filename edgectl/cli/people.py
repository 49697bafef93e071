"""``edgectl people``: residents, staff and guards, and the access levels they hold."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import typer
from rich.table import Table

from edgectl.cli.common import (
    ConfigOption,
    console,
    fail,
    load_or_exit,
    open_db,
    open_site,
    print_json_lines,
    site_change,
)
from edgectl.site import reads
from edgectl.site.actor import Actor

app = typer.Typer(help="People and the access levels they hold.", no_args_is_help=True)
JsonOption = typer.Option(False, "--json", help="JSON instead of a table.")
PersonArgument = typer.Argument(..., help="Person id.")
LevelArgument = typer.Argument(..., help="Access level id.")


@app.command("add")
def add(
    person: str = typer.Argument(..., help="Person id, e.g. res-12-3 (unit and resident)."),
    name: str = typer.Option("", "--name", help="The person's name, as staff know them."),
    role: str = typer.Option("resident", "--role", help="resident, staff, guard or contractor."),
    level: list[str] = typer.Option([], "--level", "-l", help="Access level id (repeatable)."),
    config: Path = ConfigOption,
) -> None:
    """Add a person with their access levels (all or nothing)."""
    cfg = load_or_exit(config)
    with site_change(cfg) as site:
        site.add_person(person, actor=Actor.cli(), name=name, role=role, levels=level)
    held = f" with {', '.join(level)}" if level else " (no level yet: `people grant`)"
    console.print(f"added {person}{held}", highlight=False)


@app.command("list")
def list_people(
    role: str = typer.Option("", "--role", help="Only people with this role."),
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """List people (visitors: `edgectl visitors list`)."""
    cfg = load_or_exit(config)
    with closing(open_db(cfg)) as conn:
        items = reads.people(conn, role)
    if as_json:
        print_json_lines(items)
        return
    table = Table("person", "name", "role", "levels", "active credentials")
    for p in items:
        table.add_row(p["id"], p["name"], p["role"], ", ".join(p["levels"]), str(p["active"]))
    console.print(table)


@app.command("show")
def show(
    person: str = PersonArgument,
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """One person: levels, groups, credentials and the visitor passes they host."""
    cfg = load_or_exit(config)
    with closing(open_db(cfg)) as conn:
        item = reads.person(conn, person)
    if item is None:
        raise fail(f"no person {person!r}")
    if as_json:
        console.print(json.dumps(item), highlight=False, soft_wrap=True)
        return
    console.print(f"{item['id']}  {item['name']}  ({item['role']})", highlight=False)
    console.print(f"levels: {', '.join(item['levels']) or '-'}", highlight=False)
    console.print(f"groups: {', '.join(item['groups']) or '-'}", highlight=False)
    creds = Table("id", "credential", "status", "valid", title="credentials")
    for c in item["credentials"]:
        valid = f"{c['valid_from'] or '-'} .. {c['valid_until'] or '-'}"
        creds.add_row(str(c["id"]), c["credential"], c["status"], valid)
    console.print(creds)
    if item["visitors"]:
        hosted = Table("pass", "visitor", "until", "status", title="visitor passes hosted")
        for v in item["visitors"]:
            hosted.add_row(str(v["id"]), v["visitor"], v["until"], v["status"])
        console.print(hosted)


@app.command("grant")
def grant(
    person: str = PersonArgument,
    level: str = LevelArgument,
    config: Path = ConfigOption,
) -> None:
    """Give a person an access level."""
    cfg = load_or_exit(config)
    with site_change(cfg) as site:
        site.grant_level(person, level, actor=Actor.cli())
    console.print(f"{person} now holds {level}", highlight=False)


@app.command("revoke")
def revoke(
    person: str = PersonArgument,
    level: str = LevelArgument,
    config: Path = ConfigOption,
) -> None:
    """Take an access level from a person (their credentials stay)."""
    cfg = load_or_exit(config)
    with closing(open_site(cfg)) as site:
        if not site.remove_level(person, level, actor=Actor.cli()):
            raise fail(f"{person!r} does not hold level {level!r}")
    console.print(f"{person} no longer holds {level}", highlight=False)


@app.command("move-out")
def move_out(
    person: str = PersonArgument,
    config: Path = ConfigOption,
) -> None:
    """Revoke every credential the person holds and every visitor pass they host."""
    cfg = load_or_exit(config)
    with closing(open_site(cfg)) as site:
        if reads.person(site.conn, person) is None:
            raise fail(f"no person {person!r}")
        count = site.revoke_person(person, actor=Actor.cli())
    console.print(f"{person}: revoked {count} credential(s) and visitor pass(es)", highlight=False)
