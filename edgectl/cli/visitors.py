"""``edgectl visitors``: the gate post's visitor registration, in one command.

``issue`` prints the pass code once, to the person issuing it; nothing else prints a code.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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
from edgectl.store.credentials import parse_when

app = typer.Typer(help="Visitor passes: issue, list, revoke.", no_args_is_help=True)


def _until(until: str, hours: float, zone: ZoneInfo) -> datetime:
    if until:
        try:
            return parse_when(until, zone)
        except ValueError as exc:
            raise fail(f"--until: {exc}", 2) from None
    return datetime.now(UTC) + timedelta(hours=hours)


@app.command("issue")
def issue(
    name: str = typer.Argument(..., help="The visitor's name."),
    host: str = typer.Option(..., "--host", help="The resident they visit (person id)."),
    hours: float = typer.Option(4.0, "--hours", help="Valid for this many hours from now."),
    until: str = typer.Option("", "--until", help="Valid until (site local date and time)."),
    gate: list[str] = typer.Option(
        [], "--gate", "-g", help="Gate or door id (repeatable); default: every gate."
    ),
    uses: int = typer.Option(1, "--uses", help="How many entries (0: unlimited)."),
    config: Path = ConfigOption,
) -> None:
    """Register a visitor and print the pass code to hand over."""
    cfg = load_or_exit(config)
    targets = gate or [g.id for g in cfg.gates]
    with site_change(cfg, 2) as site:
        issued = site.issue_visitor_pass(
            name,
            host,
            _until(until, hours, cfg.site.zone),
            targets,
            actor=Actor.cli(),
            uses=uses,
        )
    local = issued.valid_until.astimezone(cfg.site.zone).isoformat(sep=" ", timespec="minutes")
    console.print(f"visitor code: {issued.code}", highlight=False)
    console.print(
        f"pass {issued.credential_id} for {name}, host {host}, until {local}, "
        f"at {', '.join(targets)}, {uses or 'unlimited'} use(s)",
        highlight=False,
    )


@app.command("list")
def list_visitors(
    host: str = typer.Option("", "--host", help="Only passes this resident hosts."),
    include_ended: bool = typer.Option(False, "--all", help="Include revoked passes."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    config: Path = ConfigOption,
) -> None:
    """List visitor passes (never their codes)."""
    cfg = load_or_exit(config)
    with closing(open_db(cfg)) as conn:
        items = reads.visitors(conn, host, include_ended=include_ended)
    if as_json:
        print_json_lines(items)
        return
    table = Table("pass", "visitor", "host", "until", "at", "uses", "status")
    for v in items:
        uses = f"{v['uses']}/{v['max_uses'] or 'unlimited'}"
        table.add_row(
            str(v["id"]), v["visitor"], v["host"], v["until"], ", ".join(v["targets"]), uses,
            v["status"],
        )  # fmt: skip
    console.print(table)


@app.command("revoke")
def revoke(
    pass_id: int = typer.Argument(0, help="Pass id (from `visitors list`)."),
    code: str = typer.Option("", "--code", help="Or the pass code the visitor holds."),
    config: Path = ConfigOption,
) -> None:
    """Revoke a visitor pass."""
    cfg = load_or_exit(config)
    if not (pass_id or code):
        raise fail("give a pass id or --code", 2)
    with closing(open_site(cfg)) as site:
        if not site.revoke_visitor_pass(code, credential_id=pass_id, actor=Actor.cli()):
            raise fail("no active visitor pass " + (str(pass_id) if pass_id else "with that code"))
    console.print("visitor pass revoked", highlight=False)
