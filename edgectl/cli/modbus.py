"""``edgectl scan modbus`` and ``edgectl gate status``: commissioning and looking at gates."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from drivers.base import DeviceError
from edgectl.cli.common import ConfigOption, console, err_console, load_or_exit
from edgectl.config import Bus
from edgectl.control_client import request

scan_app = typer.Typer(help="Find devices on a bus.", no_args_is_help=True)


def units_spec(spec: str) -> list[int]:
    """Parse "1-247" or "1,5,9-12" into unit ids; raise BadParameter naming the problem."""
    units: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise typer.BadParameter(
                f"expected unit ids like 1-247 or 1,5,9-12, got {spec!r}"
            ) from None
        if not 1 <= first <= last <= 247:
            raise typer.BadParameter(f"unit ids must be 1-247 in order, got {part!r}")
        units.update(range(first, last + 1))
    return sorted(units)


@scan_app.command("modbus")
def scan_modbus(
    port: str = typer.Option(..., "--port", "-p", help="Serial port, e.g. /dev/serial/by-id/..."),
    baud: int = typer.Option(9600, "--baud", "-b", help="Baud rate of the bus."),
    parity: str = typer.Option("N", "--parity", help="N, E or O"),
    stopbits: int = typer.Option(1, "--stopbits", help="Stop bits: 1 or 2."),
    units: str = typer.Option("1-247", "--units", "-u", help="Unit ids to probe: 1-247, 1,5,9-12"),
    latency_ms: float = typer.Option(25.0, "--latency-ms", help="Adapter latency allowance."),
) -> None:
    """Probe Modbus unit ids on a serial bus; report who answered and which profile fits."""
    from drivers.modbus.direct import scan

    wanted = units_spec(units)
    if parity not in ("N", "E", "O"):
        raise typer.BadParameter(f"expected parity N, E or O, got {parity!r}")
    try:
        bus = Bus(
            id="scan",
            port=port,
            baud=baud,
            parity=parity,  # type: ignore[arg-type]  # checked above: N, E or O
            stopbits=stopbits,
            latency_ms=latency_ms,
        )
        bus.validate()
    except ValueError as exc:
        err_console.print(f"[red]bad bus settings:[/] {exc}")
        raise typer.Exit(2) from None
    with Progress(
        TextColumn("probing unit {task.fields[unit]:>3}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=len(wanted), unit=wanted[0])
        try:
            hits = asyncio.run(scan(bus, wanted, lambda u: bar.update(task, advance=1, unit=u)))
        except DeviceError as exc:
            err_console.print(f"[red]scan failed:[/] {exc}")
            raise typer.Exit(1) from None
    if not hits:
        console.print(f"no unit answered on {port} at {baud} baud ({len(wanted)} probed)")
        raise typer.Exit(1)
    table = Table("unit", "profiles that fit", "state")
    for hit in hits:
        table.add_row(str(hit.unit), ", ".join(hit.fits) or "-", hit.state)
    console.print(table)
    console.print(f"{len(hits)} of {len(wanted)} units answered on {port} at {baud} baud")


def gate_status(
    gate_id: str = typer.Argument(..., metavar="ID"),
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a gate's state, position, counters and last fault (via the daemon, else direct)."""
    cfg = load_or_exit(config)
    if gate_id not in {g.id for g in cfg.gates}:
        err_console.print(
            f"[red]unknown gate {gate_id!r}[/]; configured: {[g.id for g in cfg.gates]}"
        )
        raise typer.Exit(2)
    try:
        code, reply = asyncio.run(
            request(cfg.daemon.control_socket, "GET", f"/v1/devices/{gate_id}")
        )
        if code != 200:
            raise KeyError(gate_id)
        status = reply | {"via": "daemon"}
    except (OSError, KeyError):
        status = _direct_status(cfg, gate_id)
    if as_json:
        console.print_json(json.dumps(status))
        return
    table = Table(show_header=False)
    for key in (
        "id",
        "state",
        "position",
        "fault_code",
        "fault_text",
        "online",
        "vehicle",
        "counters",
        "read_at",
        "via",
    ):
        if key in status and status[key] not in (None, {}):
            table.add_row(key, str(status[key]))
    console.print(table)


def _direct_status(cfg: Any, gate_id: str) -> dict[str, Any]:
    from drivers.modbus import read_snapshot

    gate = cfg.gate(gate_id)
    try:
        snap = asyncio.run(read_snapshot(cfg.bus(gate.bus), gate))
    except DeviceError as exc:
        err_console.print(f"[red]cannot read {gate_id}:[/] {exc}")
        raise typer.Exit(1) from None
    body = asdict(snap)
    body["read_at"] = snap.read_at.isoformat() if snap.read_at else None
    return {"id": gate_id, **body, "online": True, "via": "bus"}
