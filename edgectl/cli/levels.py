"""``edgectl levels``, ``schedules`` and ``holidays``: what lets a card through, and when.

Levels, and the schedules and holidays added here, are site data: changed through the site
service, audited, and taken up by a running daemon at its next decision. Schedules and
holidays in the site config (``[[access.schedules]]``, ``[[access.holidays]]``) are listed
beside them and changed only by editing the config.
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
from edgectl.store.calendar import DEFAULT_HOLIDAY_TYPE
from rules.schedule import format_window

app = typer.Typer(
    help="Access levels: which doors and gates, on which schedule.", no_args_is_help=True
)
schedules_app = typer.Typer(
    help="Week schedules that levels name: added here, or in the site config as "
    "access.schedules tables (change those in the config); 'always' and 'never' are built in.",
    no_args_is_help=True,
)
holidays_app = typer.Typer(
    help="Holidays by local date: added here, or in the site config as access.holidays "
    "tables (change those in the config).",
    no_args_is_help=True,
)
JsonOption = typer.Option(False, "--json", help="One JSON object per line.")
CLI = Actor.cli()


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
        site.define_level(level, target, schedule, name, actor=CLI)
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
        held = site.delete_level(level, actor=CLI, force=force)
    lost = f"; {held} people lost it" if held else ""
    console.print(f"removed level {level}{lost}", highlight=False)


@schedules_app.command("add")
def add_schedule(
    schedule: str = typer.Argument(..., help="Schedule id, e.g. office-hours."),
    window: list[str] = typer.Option(
        ...,
        "--window",
        "-w",
        help="Days and times in site local time, e.g. 'mon-fri 07:00-19:00' or "
        "'sat,sun 09:00-12:00 14:00-18:00' (repeatable).",
    ),
    name: str = typer.Option("", "--name", help="A name staff know the schedule by."),
    config: Path = ConfigOption,
) -> None:
    """Add a week schedule that levels can name (closed on holidays)."""
    cfg = load_or_exit(config)
    with site_change(cfg, 2) as site:
        added = site.add_schedule(schedule, window, actor=CLI, name=name)
    windows = "; ".join(format_window(w) for w in added.windows())
    console.print(f"schedule {schedule}: {windows} ({cfg.site.zone.key})", highlight=False)


@schedules_app.command("remove")
def remove_schedule(
    schedule: str = typer.Argument(..., help="Schedule id."), config: Path = ConfigOption
) -> None:
    """Delete a schedule added here (refused while a level uses it)."""
    cfg = load_or_exit(config)
    with site_change(cfg) as site:
        site.remove_schedule(schedule, actor=CLI)
    console.print(f"removed schedule {schedule}", highlight=False)


@schedules_app.command("list")
def list_schedules(as_json: bool = JsonOption, config: Path = ConfigOption) -> None:
    """List the schedules (site local time): built in, from the config, added here."""
    cfg = load_or_exit(config)
    with closing(open_db(cfg)) as conn:
        items = reads.schedules(conn, cfg)
    if as_json:
        print_json_lines(items)
        return
    table = Table("schedule", "source", "name", "week", "holidays")
    table.title = f"times in {cfg.site.zone.key}"
    for s in items:
        week = "; ".join(s.get("windows", ())) or ("-" if s["source"] != "built in" else "")
        plans = s.get("holidays", {}).items()
        hols = "; ".join(f"{t}: {' '.join(segs) or 'closed'}" for t, segs in plans)
        table.add_row(s["id"], s["source"], s["name"], week, hols or ("closed" if week else ""))
    console.print(table)


@holidays_app.command("add")
def add_holiday(
    day: str = typer.Argument(..., help="Local date, YYYY-MM-DD."),
    name: str = typer.Option("", "--name", help="What the day is, e.g. National Day."),
    kind: str = typer.Option(
        DEFAULT_HOLIDAY_TYPE,
        "--type",
        help="Holiday type (access.holiday_types): schedules with segments for it stay open "
        "then; the default closes every schedule but 'always'.",
    ),
    config: Path = ConfigOption,
) -> None:
    """Add a holiday: schedules are closed on it but for their holiday segments."""
    cfg = load_or_exit(config)
    with site_change(cfg, 2) as site:
        added = site.add_holiday(day, actor=CLI, name=name, kind=kind)
    console.print(f"holiday {added} ({kind}) {name}".rstrip(), highlight=False)


@holidays_app.command("remove")
def remove_holiday(
    day: str = typer.Argument(..., help="Local date, YYYY-MM-DD."), config: Path = ConfigOption
) -> None:
    """Delete a holiday added here."""
    cfg = load_or_exit(config)
    with site_change(cfg) as site:
        removed = site.remove_holiday(day, actor=CLI)
    console.print(f"removed holiday {removed}", highlight=False)


@holidays_app.command("list")
def list_holidays(as_json: bool = JsonOption, config: Path = ConfigOption) -> None:
    """List the holidays (local dates): from the config and added here."""
    cfg = load_or_exit(config)
    with closing(open_db(cfg)) as conn:
        items = reads.holidays(conn, cfg)
    if as_json:
        print_json_lines(items)
        return
    table = Table("date", "type", "name", "source")
    for item in items:
        table.add_row(item["date"], item["type"], item["name"], item["source"])
    console.print(table)
