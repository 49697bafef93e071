"""``edgectl patrol``: routes, tours, starting a tour, and the day's patrol report."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgectl.cli.common import ConfigOption, console, load_or_exit
from edgectl.cli.opcall import JsonOption, call, day_option, fail, local_day, read_store, show
from edgectl.config import Config
from edgectl.patrol import store
from edgectl.workorders.store import stamp
from rules.schedule import day_bounds

app = typer.Typer(
    help="Guard patrols: routes of checkpoints, tours, reports.", no_args_is_help=True
)


@app.command("routes")
def routes(as_json: bool = JsonOption, config: Path = ConfigOption) -> None:
    """The configured routes and their checkpoints."""
    cfg = load_or_exit(config)
    if as_json:
        show(
            {
                "routes": [
                    {
                        "route": r.id,
                        "ordered": r.ordered,
                        "start": list(r.start),
                        "times": list(r.times),
                        "checkpoints": [c.id for c in r.checkpoints],
                    }
                    for r in cfg.patrol.routes
                ]
            }
        )
        return
    table = Table("route", "order", "checkpoints (latest s)", "starts", "max min")
    for r in cfg.patrol.routes:
        cps = ", ".join(f"{c.id} ({c.latest_s:g})" for c in r.checkpoints)
        starts = ", ".join(r.start) + (f" at {', '.join(r.times)}" if r.times else "")
        table.add_row(
            r.id, "fixed" if r.ordered else "free", cps, starts, f"{r.max_duration_s / 60:g}"
        )
    console.print(table)


def _tours(cfg: Config, day: date) -> list[dict[str, Any]]:
    start, end = day_bounds(day, cfg.site.zone)
    conn = read_store(cfg)
    try:
        return store.tours(conn, stamp(start), stamp(end))
    except sqlite3.Error as exc:
        raise fail(f"cannot read tours from {cfg.store.path}: {exc}") from None


@app.command("tours")
def tours(
    day: str = day_option("today"),
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """Tours started on a day, with each checkpoint's result."""
    cfg = load_or_exit(config)
    rows = _tours(cfg, local_day(cfg, day, default_back=0))
    if as_json:
        show({"tours": rows})
        return
    table = Table("tour", "route", "guard", "started", "status", "checkpoints")
    for t in rows:
        cps = ", ".join(f"{k}:{v}" for k, v in t["checkpoints"].items())
        table.add_row(
            str(t["id"]),
            str(t["route"]),
            str(t["guard"]),
            str(t["started_at"])[:19],
            str(t["status"]),
            cps,
        )
    console.print(table)


@app.command("start")
def start(
    route: str = typer.Argument(...),
    guard: str = typer.Option("", "--guard", help="Guard id; default: the route's or on duty."),
    config: Path = ConfigOption,
) -> None:
    """Start a tour of a route now (the daemon keeps its windows)."""
    cfg = load_or_exit(config)
    body: dict[str, Any] = {"route": route}
    if guard:
        body["guard"] = guard
    result = call(cfg, "patrol/start", body)
    console.print(
        f"[green]started[/] {result['tour_id']} (guard {result['guard'] or 'unassigned'})"
    )


@app.command("report")
def report(
    day: str = day_option("today"),
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """A day's tours by route: completed, incomplete, checkpoint results."""
    cfg = load_or_exit(config)
    wanted = local_day(cfg, day, default_back=0)
    per_route: dict[str, Counter[str]] = {}
    for t in _tours(cfg, wanted):
        counts = per_route.setdefault(str(t["route"]), Counter())
        counts[f"tour_{t['status']}"] += 1
        counts.update(t["checkpoints"].values())
    doc = {"day": wanted.isoformat(), "routes": {r: dict(c) for r, c in sorted(per_route.items())}}
    if as_json:
        show(doc)
        return
    console.print(f"[bold]Patrols, {doc['day']}[/] ({cfg.site.id})")
    table = Table(
        "route",
        "completed",
        "incomplete",
        "active",
        "on_time",
        "early",
        "late",
        "out_of_order",
        "missed",
    )
    for r, c in sorted(per_route.items()):
        table.add_row(
            r,
            *(
                str(c[k])
                for k in (
                    "tour_completed",
                    "tour_incomplete",
                    "tour_active",
                    "on_time",
                    "early",
                    "late",
                    "out_of_order",
                    "missed",
                )
            ),
        )
    console.print(table)
