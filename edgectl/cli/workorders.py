"""``edgectl workorders``: create, move and read work orders; the daily report."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgectl.cli.common import ConfigOption, console, load_or_exit
from edgectl.cli.opcall import JsonOption, call, day_option, fail, open_day, read_store, show
from edgectl.workorders import report, store
from rules.schedule import day_bounds

app = typer.Typer(
    help="Work orders kept on site: deadlines, escalation, reports.", no_args_is_help=True
)


@app.command("create")
def create(
    title: str = typer.Argument(..., help="What is wrong, in a line."),
    priority: str = typer.Option("service", "--priority", "-p", help="service or emergency."),
    source: str = typer.Option(
        "butler", "--source", help="butler, or desk for a resident's request."
    ),
    detail: str = typer.Option("", "--detail", help="More about the fault, for the assignee."),
    target: str = typer.Option("", "--target", help="Device or place, e.g. a unit or gate id."),
    assignee: str = typer.Option(
        "", "--assignee", help="Staff id; default: by role from the roster."
    ),
    role: str = typer.Option(
        "", "--role", help="Role to assign by (default: workorders.default_role)."
    ),
    by: str = typer.Option("", "--as", help="Who is asking (the butler or desk agent)."),
    config: Path = ConfigOption,
) -> None:
    """Open a work order (a butler's, or a resident's request taken at the desk)."""
    cfg = load_or_exit(config)
    body: dict[str, Any] = {"title": title, "priority": priority, "source": source}
    for key, value in (
        ("detail", detail),
        ("target", target),
        ("assignee", assignee),
        ("role", role),
        ("as", by),
    ):
        if value:
            body[key] = value
    result = call(cfg, "workorder/create", body)
    console.print(
        f"[green]created[/] {result['order_id']} (assigned to {result['assignee'] or 'nobody on duty'})"
    )


@app.command("transition")
def transition(
    order_id: str = typer.Argument(...),
    status: str = typer.Argument(
        ..., help="accepted, on_site, diagnosed, done, followed_up, cancelled."
    ),
    fix_in: float = typer.Option(0.0, "--fix-in", help="diagnosed: estimated minutes to fix."),
    verdict: str = typer.Option(
        "", "--verdict", help="followed_up: satisfied, unsatisfied, unreachable."
    ),
    note: str = typer.Option("", "--note", help="A note kept with the change."),
    by: str = typer.Option("", "--as", help="Who made the change."),
    config: Path = ConfigOption,
) -> None:
    """Move a work order to its next status."""
    cfg = load_or_exit(config)
    body: dict[str, Any] = {"order_id": order_id, "status": status}
    if fix_in:
        body["estimated_fix_at"] = (datetime.now(UTC) + timedelta(minutes=fix_in)).isoformat()
    for key, value in (("verdict", verdict), ("note", note), ("as", by)):
        if value:
            body[key] = value
    result = call(cfg, "workorder/transition", body)
    console.print(f"[green]{result['order_id']}[/]: {result['previous']} -> {result['status']}")


@app.command("assign")
def assign(
    order_id: str = typer.Argument(...),
    staff: str = typer.Argument(...),
    config: Path = ConfigOption,
) -> None:
    """Assign a work order to a staff member."""
    cfg = load_or_exit(config)
    result = call(cfg, "workorder/assign", {"order_id": order_id, "assignee": staff})
    console.print(f"[green]{result['order_id']}[/] assigned to {result['assignee']}")


@app.command("list")
def list_(as_json: bool = JsonOption, config: Path = ConfigOption) -> None:
    """Open work orders (from the store; works without the daemon)."""
    cfg = load_or_exit(config)
    conn = read_store(cfg)
    try:
        orders = store.load_open(conn)
    except sqlite3.Error as exc:
        raise fail(f"cannot read work orders from {cfg.store.path}: {exc}") from None
    if as_json:
        for o in orders:
            console.print(
                json.dumps(
                    {
                        "order_id": o.id,
                        "status": o.status,
                        "priority": o.priority,
                        "source": o.source,
                        "assignee": o.assignee,
                        "created_at": o.created_at.isoformat(),
                    }
                ),
                soft_wrap=True,
            )
        return
    table = Table("order", "status", "priority", "source", "assignee", "created")
    for o in sorted(orders, key=lambda x: x.created_at):
        table.add_row(
            o.id,
            o.status,
            o.priority,
            o.source,
            o.assignee or "-",
            o.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@app.command("report")
def report_(
    day: str = day_option("yesterday"),
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """The daily report: orders by source and priority, deadline compliance, follow-up rate."""
    cfg, wanted, conn = open_day(config, day, default_back=1)
    start, end = day_bounds(wanted, cfg.site.zone)
    try:
        orders = store.load_period(conn, start, end)
    except sqlite3.Error as exc:
        raise fail(f"cannot read work orders from {cfg.store.path}: {exc}") from None
    r = report.daily(
        wanted.isoformat(), orders, start, end, datetime.now(UTC), cfg.workorders.policy()
    )
    if as_json:
        show(dataclasses.asdict(r))
        return
    console.print(f"[bold]Work orders, {r.day}[/] ({cfg.site.id}): {r.created} created")
    console.print(f"  by source:   {r.by_source or '-'}")
    console.print(f"  by priority: {r.by_priority or '-'}")
    table = Table("stage", "on time %", "pending")
    for stage, pct in r.compliance.items():
        table.add_row(stage, "-" if pct is None else f"{pct:.1f}", str(r.pending[stage]))
    console.print(table)
    rate = "-" if r.follow_up_rate is None else f"{r.follow_up_rate:.1f}%"
    console.print(f"  follow-up rate: {rate}")
