"""The ``edgectl`` command line."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from edgectl import __version__, logs
from edgectl.cli import (
    camera,
    cards,
    db,
    doctor,
    facilities,
    gate,
    init,
    levels,
    modbus,
    patrol,
    people,
    readers,
    service,
    visitors,
    workorders,
)
from edgectl.cli import hub as hub_cli
from edgectl.cli import sync as sync_cli
from edgectl.cli.common import ConfigOption, console, load_or_exit
from edgectl.domain import Event
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
app.add_typer(levels.app, name="levels")
app.add_typer(levels.schedules_app, name="schedules")
app.add_typer(levels.holidays_app, name="holidays")
app.add_typer(people.app, name="people")
app.add_typer(visitors.app, name="visitors")
app.add_typer(readers.app, name="readers")
cards.app.command("enroll")(readers.enroll)
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
app.command("init")(init.init)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"edgectl {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Edge controller for a gated compound: access, gates, operators, head-office sync."""


sim_app = typer.Typer(help="The simulated compound.")
app.add_typer(sim_app, name="sim")


@sim_app.callback(invoke_without_command=True)
def sim(
    ctx: typer.Context,
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

    With --devices-only, `edgectl run --config config.example.toml` runs against it as-is,
    and `edgectl sim present --card 12:1001` presents a card at its reader.
    """
    if ctx.invoked_subcommand is not None:
        return
    from edgectl.cli.sim import run_sim

    run_sim(duration, interval, directory, seed_value, devices_only, operations)


@sim_app.command("present")
def sim_present(
    card: str = typer.Option(
        None, "--card", help="FACILITY:NUMBER (or NUMBER for formats without a facility)."
    ),
    pin: str = typer.Option(None, "--pin", help="Digits typed on the reader's keypad."),
    card_format: str = typer.Option("h10301", "--format", help="Wiegand format of the card."),
    directory: Path = typer.Option(
        Path("/tmp/edgectl-sim"), "--dir", help="The folder of a running `sim --devices-only`."
    ),
) -> None:
    """Present a card (or type a PIN) at the simulated reader of `sim --devices-only`."""
    from edgectl.cli.sim import present

    present(directory, card, pin, card_format)


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


def _line(entry: Entry, as_json: bool, zone: ZoneInfo) -> str:
    """One event; times in the site's zone with their offset (JSON keeps UTC)."""
    if as_json:
        return json.dumps(entry.to_json(), ensure_ascii=False)
    body = " ".join(f"{k}={v}" for k, v in entry.body.items() if v not in (None, "", {}))
    at = entry.at.astimezone(zone).isoformat(sep=" ", timespec="milliseconds")
    return f"{entry.seq:>8} {at} {entry.kind:<20} {entry.source:<14} {body}"


def _event_kinds(conn: sqlite3.Connection) -> set[str]:
    """Every kind the vocabulary defines, and every kind this journal holds."""
    pending: list[type[Event]] = [Event]
    kinds: set[str] = set()
    while pending:
        for sub in pending.pop().__subclasses__():
            kinds.add(sub.KIND)
            pending.append(sub)
    kinds.update(row[0] for row in conn.execute("SELECT DISTINCT kind FROM journal"))
    return kinds


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
        unknown = sorted(set(kind) - _event_kinds(conn)) if kind else []
        entries = last_entries(conn, lines, tuple(kind))
    except Exception as exc:  # sqlite3.Error or StoreError: the DB is missing or unreadable
        logs_error(f"cannot read journal {cfg.store.path}: {exc}")
        raise typer.Exit(1) from None
    if unknown:
        logs_error(
            f"unknown event kind {', '.join(unknown)}; "
            f"known kinds: {', '.join(sorted(_event_kinds(conn)))}"
        )
        raise typer.Exit(2)
    last = entries[-1].seq if entries else 0
    for entry in entries:
        console.print(_line(entry, as_json, cfg.site.zone), highlight=False, soft_wrap=True)
    while follow:
        time.sleep(0.2)
        for entry in read_entries(conn, last, 1000, tuple(kind)):
            console.print(_line(entry, as_json, cfg.site.zone), highlight=False, soft_wrap=True)
            last = entry.seq
