"""``edgectl facilities report``: each device's share of a day in working order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import typer
from rich.table import Table

from edgectl.cli.common import ConfigOption, console
from edgectl.cli.opcall import JsonOption, day_option, fail, open_day, show
from edgectl.facilities import figures
from rules.schedule import day_bounds

app = typer.Typer(
    help="Facility availability (public facilities in working order).", no_args_is_help=True
)


@app.command("report")
def report(
    day: str = day_option("yesterday"),
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """Availability per device for a day, and over the rolling window, against the target."""
    cfg, wanted, conn = open_day(config, day, default_back=1)
    zone = cfg.site.zone
    target, window = cfg.facilities.target, cfg.facilities.window_days
    rows = []
    try:
        stored = {r["device"]: r for r in figures.stored(conn, wanted)}
        _, end = day_bounds(wanted, zone)
        ids = [g.id for g in cfg.gates] + [d.id for d in cfg.doors] + [r.id for r in cfg.readers]
        for device in sorted({*ids, *figures.devices_seen(conn, end), *stored}):
            if device in stored:  # the daemon's figure, as sent to the hub
                row = stored[device]
                share = row["up_s"] / row["total_s"] if row["total_s"] else 1.0
                outages = int(row["outages"])
                week = figures.window_share(conn, device, wanted, window)
            else:  # not computed yet (today, or no daemon): computed the same way now
                a = figures.device_day(conn, device, wanted, zone)
                share, outages, week = a.share, len(a.outages), None
            rows.append(
                {
                    "device": device,
                    "share": round(share, 6),
                    "outages": outages,
                    "week_share": None if week is None else round(week, 6),
                    "below_target": week is not None and week < target,
                }
            )
    except sqlite3.Error as exc:
        raise fail(f"cannot read {cfg.store.path}: {exc}") from None
    if as_json:
        show({"day": wanted.isoformat(), "target": target, "devices": rows})
        return
    console.print(f"[bold]Facility availability, {wanted}[/] ({cfg.site.id}), target {target:.0%}")
    table = Table("device", "day %", "outages", f"{window}-day %", "")
    for r in rows:
        shown = "-" if r["week_share"] is None else f"{100 * r['week_share']:.2f}"
        table.add_row(
            str(r["device"]),
            f"{100 * r['share']:.2f}",
            str(r["outages"]),
            shown,
            "[red]below target[/]" if r["below_target"] else "",
        )
    console.print(table)
