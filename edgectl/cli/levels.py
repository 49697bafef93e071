"""``edgectl levels``, ``schedules`` and ``holidays``: what lets a card through, and when.

Levels are site data (changed through the site service, audited). Schedules and holidays
are part of the site config (``[[access.schedules]]``, ``[[access.holidays]]``): these
commands list them; change them by editing the config and restarting the daemon.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import typer
from rich.table import Table

from edgectl.cli.common import (
    ConfigOption,
    console,
    load_or_exit,
    open_db,
    print_json_lines,
    site_change,
)
from edgectl.site import reads
from edgectl.site.actor import Actor
from rules.schedule import DAYS

app = typer.Typer(
    help="Access levels: which doors and gates, on which schedule.", no_args_is_help=True
)
schedules_app = typer.Typer(
    help="Week schedules that levels name. Defined in the site config, as access.schedules tables: "
    "edit it and restart the daemon to change them; 'always' and 'never' are built in.",
    no_args_is_help=True,
)
holidays_app = typer.Typer(
    help="Holidays by local date. Defined in the site config, as access.holidays tables: "
    "edit it and restart the daemon to change them.",
    no_args_is_help=True,
)
JsonOption = typer.Option(False, "--json", help="One JSON object per line.")


@app.command("add")
def add(
    level: str = typer.Argument(..., help="Level id, e.g. residents."),
    target: list[str] = typer.Option(
        ..., "--target", "-t", help="Door or gate id (repeatable); '*' for every one."
    ),
    schedule: str = typer.Option(
        "always", "--schedule", "-s", help="Schedule id (see `edgectl schedules list`)."
    ),
    name: str = typer.Option("", "--name", help="A name staff know the level by."),
    config: Path = ConfigOption,
) -> None:
    """Create an access level, or replace its targets and schedule."""
    cfg = load_or_exit(config)
    with site_change(cfg, 2) as site:
        site.define_level(level, target, schedule, name, actor=Actor.cli())
    console.print(
        f"level {level}: {', '.join(dict.fromkeys(target))} on schedule {schedule}",
        highlight=False,
    )


@app.command("list")
def list_levels(as_json: bool = JsonOption, config: Path = ConfigOption) -> None:
    """List access levels: targets, schedule and how many people hold each."""
    cfg = load_or_exit(config)
    with closing(open_db(cfg)) as conn:
        items = reads.levels(conn)
    if as_json:
        print_json_lines(items)
        return
    table = Table("level", "name", "targets", "schedule", "people")
    for item in items:
        targets = ", ".join(item["targets"])
        table.add_row(item["id"], item["name"], targets, item["schedule"], str(item["people"]))
    console.print(table)


@app.command("remove")
def remove(
    level: str = typer.Argument(..., help="Level id."),
    force: bool = typer.Option(False, "--force", help="Remove it even if people hold it."),
    config: Path = ConfigOption,
) -> None:
    """Delete an access level (refused while people hold it, unless --force)."""
    cfg = load_or_exit(config)
    with site_change(cfg) as site:
        held = site.delete_level(level, actor=Actor.cli(), force=force)
    lost = f"; {held} people lost it" if held else ""
    console.print(f"removed level {level}{lost}", highlight=False)


@schedules_app.command("list")
def list_schedules(as_json: bool = JsonOption, config: Path = ConfigOption) -> None:
    """List the schedules (site local time) from the config."""
    cfg = load_or_exit(config)
    if as_json:
        print_json_lines([{"id": "always", "builtin": True}, {"id": "never", "builtin": True}])
        print_json_lines(
            {"id": s.id, "builtin": False}
            | {day: list(getattr(s, day)) for day in DAYS}
            | {"holidays": {h.type: list(h.segments) for h in s.holidays}}
            for s in cfg.access.schedules
        )
        return
    table = Table("schedule", *DAYS, "holidays", title=f"times in {cfg.site.zone.key}")
    table.add_row("always", "(built in: open at all times)")
    table.add_row("never", "(built in: closed at all times)")
    for s in cfg.access.schedules:
        days = [" ".join(getattr(s, day)) or "-" for day in DAYS]
        hols = "; ".join(f"{h.type}: {' '.join(h.segments) or 'closed'}" for h in s.holidays)
        table.add_row(s.id, *days, hols or "-")
    console.print(table)


@holidays_app.command("list")
def list_holidays(as_json: bool = JsonOption, config: Path = ConfigOption) -> None:
    """List the holidays (local dates and their type) from the config."""
    cfg = load_or_exit(config)
    items = [{"date": h.date, "type": h.type} for h in sorted(cfg.access.holidays, key=str)]
    if as_json:
        print_json_lines(items)
        return
    table = Table("date", "type")
    for item in items:
        table.add_row(item["date"], item["type"])
    console.print(table)
