"""The ``edgectl`` command line."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer

from edgectl import logs
from edgectl.cli import (
    camera,
    cards,
    db,
    doctor,
    facilities,
    gate,
    modbus,
    patrol,
    service,
    workorders,
)
from edgectl.cli import hub as hub_cli
from edgectl.cli import sync as sync_cli
from edgectl.cli.common import ConfigOption, console, load_or_exit
from edgectl.locks import Busy
from edgectl.store.db import StoreError, connect
from edgectl.store.journal import Entry, last_entries, read_entries

app = typer.Typer(
    name="edgectl",
    help="Edge controller for a gated compound: access, gates, operators, head-office sync.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
events_app = typer.Typer(help="Read the journal.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(gate.app, name="gate")
app.add_typer(cards.app, name="cards")
app.add_typer(db.app, name="db")
gate.app.command("status")(modbus.gate_status)
app.add_typer(modbus.scan_app, name="scan")
app.add_typer(service.app, name="service")
app.add_typer(hub_cli.app, name="hub")
app.add_typer(sync_cli.app, name="sync")
app.add_typer(camera.app, name="camera")
app.add_typer(camera.discover_app, name="discover")
app.command("doctor")(doctor.doctor)
app.add_typer(workorders.app, name="workorders")
app.add_typer(patrol.app, name="patrol")
app.add_typer(facilities.app, name="facilities")


@app.command()
def sim(
    duration: float = typer.Option(
        0.0, "--duration", "-d", help="Seconds to run; 0 runs until Ctrl-C."
    ),
    interval: float = typer.Option(1.5, "--interval", help="Seconds between presented cards."),
    directory: Path = typer.Option(
        Path("/tmp/edgectl-sim"), "--dir", help="Where to put the links, config and database."
    ),
    seed_value: int = typer.Option(7, "--seed", help="Random seed for the card mix."),
    devices_only: bool = typer.Option(
        False, "--devices-only", help="Only run the simulated devices; run the daemon yourself."
    ),
    operations: bool = typer.Option(
        False,
        "--operations",
        help="Time-lapse: a patrol tour with a missed checkpoint, a gate fault work order.",
    ),
) -> None:
    """Run a simulated compound (gate on RS-485, Wiegand reader) against the real daemon.

    With --devices-only, `edgectl run --config config.example.toml` runs against it as-is.
    """
    from edgectl.cli.sim import run_sim

    run_sim(duration, interval, directory, seed_value, devices_only, operations)


@app.command()
def run(config: Path = ConfigOption) -> None:
    """Run the daemon in the foreground (systemd runs it this way)."""
    cfg = load_or_exit(config)
    logs.setup(cfg.daemon.log_level)
    from edgectl.daemon import Daemon

    async def main() -> int:
        return await Daemon(cfg).run()

    try:
        code = asyncio.run(main())
    except (StoreError, Busy) as exc:
        logs_error(str(exc))
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def logs_error(message: str) -> None:
    from edgectl.cli.common import err_console

    err_console.print(f"[bold red]error:[/] {message}", highlight=False)


def _line(entry: Entry, as_json: bool) -> str:
    if as_json:
        return json.dumps(entry.to_json(), ensure_ascii=False)
    body = " ".join(f"{k}={v}" for k, v in entry.body.items() if v not in (None, "", {}))
    return (
        f"{entry.seq:>8} {entry.at:%Y-%m-%d %H:%M:%S.%f} {entry.kind:<20} {entry.source:<14} {body}"
    )


@events_app.command("tail")
def events_tail(
    config: Path = ConfigOption,
    lines: int = typer.Option(20, "-n", "--lines", help="How many recent events to show."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
    kind: list[str] = typer.Option([], "--kind", "-k", help="Only events of this kind."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Show the newest events in the journal, and follow new ones."""
    cfg = load_or_exit(config)
    try:
        conn = connect(cfg.store.path, readonly=True)
        entries = last_entries(conn, lines, tuple(kind))
    except Exception as exc:  # sqlite3.Error or StoreError: the DB is missing or unreadable
        logs_error(f"cannot read journal {cfg.store.path}: {exc}")
        raise typer.Exit(1) from None
    last = entries[-1].seq if entries else 0
    for entry in entries:
        console.print(_line(entry, as_json), highlight=False, soft_wrap=True)
    while follow:
        time.sleep(0.2)
        for entry in read_entries(conn, last, 1000, tuple(kind)):
            console.print(_line(entry, as_json), highlight=False, soft_wrap=True)
            last = entry.seq
