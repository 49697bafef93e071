"""``edgectl init``: from an empty box to a checked config, in one conversation.

It lists the serial ports by their stable names, scans the gate bus for Modbus gates and
matches their profiles, asks for the site, time zone, hub and broker, writes a commented
config readable only by its owner (it holds the hub token and broker password), and runs
the doctor on it. ``--non-interactive`` takes every answer as an option, for scripts and
tests.
"""

from __future__ import annotations

import asyncio
import glob
import os
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from drivers.base import DeviceError
from edgectl import tomlw
from edgectl.cli.common import console, err_console
from edgectl.cli.modbus import units_spec
from edgectl.config import Bus, ConfigError, load

DEFAULT_CONFIG = Path("/etc/edgectl/config.toml")


BY_ID = "/dev/serial/by-id"  # udev's stable names: they survive a replug, ttyUSB0 does not


def serial_ports() -> list[tuple[str, str]]:
    """(name to put in the config, device it is now): by-id names first, then bare adapters."""
    ports = [(p, os.path.realpath(p)) for p in sorted(glob.glob(f"{BY_ID}/*"))]
    named = {real for _, real in ports}
    for dev in sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*")):
        if dev not in named:
            ports.append((dev, dev))
    return ports


@dataclass(frozen=True, slots=True)
class FoundGate:
    unit: int
    profile: str


@dataclass
class Answers:
    site_id: str
    site_name: str
    timezone: str
    store: str
    control_socket: str
    bus_port: str = ""
    baud: int = 9600
    reader_ports: list[str] = field(default_factory=list)
    hub_url: str = ""
    hub_token: str = ""
    broker_host: str = ""
    broker_port: int = 1883
    broker_user: str = ""
    broker_password: str = ""


def _q(value: object) -> str:
    return tomlw.value(value)


def render(a: Answers, gates: list[FoundGate]) -> str:
    """The site's config, commented; config.example.toml documents every other key."""
    out = [
        "# edgectl site config, written by `edgectl init`. Every key, with its meaning, is in",
        "# config.example.toml (shipped with edgectl). Check it with `edgectl doctor`.",
        "",
        "[site]",
        f"id = {_q(a.site_id)}  # used in MQTT topics and by the hub",
        f"name = {_q(a.site_name)}",
        f"timezone = {_q(a.timezone)}  # IANA zone: schedules run in this local time",
        "",
        "[store]",
        f"path = {_q(a.store)}  # the journal, credentials and outbox (SQLite)",
        "disk_budget_mb = 1024",
        "",
        "[daemon]",
        f"control_socket = {_q(a.control_socket)}  # the CLI talks to the daemon here",
    ]
    if a.bus_port:
        out += [
            "",
            "[[buses]]",
            'id = "rs485-1"',
            'kind = "rtu"',
            f"port = {_q(a.bus_port)}",
            f"baud = {a.baud}",
        ]
    for i, gate in enumerate(gates):
        out += [
            "",
            "[[gates]]",
            f'id = "gate-{gate.unit}"',
            'bus = "rs485-1"',
            f"unit = {gate.unit}  # Modbus unit id the scan found",
            f"profile = {_q(gate.profile)}  # register map that fitted its answer",
            f'name = "Gate {i + 1}"',
        ]
    for i, port in enumerate(a.reader_ports):
        target = f'gate = "gate-{gates[0].unit}"' if gates else "# gate = ... or door = ..."
        out += [
            "",
            "[[readers]]",
            f'id = "reader-{i + 1}"',
            f"port = {_q(port)}",
            f"{target}  # what a granted card opens",
            'direction = "in"',
        ]
    out += ["", "[mqtt]", f"enabled = {_q(bool(a.broker_host))}"]
    if a.broker_host:
        out += [
            f"host = {_q(a.broker_host)}",
            f"port = {a.broker_port}",
            f"username = {_q(a.broker_user)}",
            f"password = {_q(a.broker_password)}",
        ]
    out += ["", "[hub]", f"enabled = {_q(bool(a.hub_url))}"]
    if a.hub_url:
        out += [f"url = {_q(a.hub_url)}", f"token = {_q(a.hub_token)}  # from the hub, per site"]
    return "\n".join(out) + "\n"


def scan_gates(port: str, baud: int, units: list[int]) -> list[FoundGate]:
    from drivers.modbus.direct import scan

    bus = Bus(id="init", port=port, baud=baud)
    with Progress(
        TextColumn("scanning {task.fields[port]} unit {task.fields[unit]:>3}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=len(units), unit=units[0], port=port)
        hits = asyncio.run(scan(bus, units, lambda u: bar.update(task, advance=1, unit=u)))
    for hit in hits:
        fits = ", ".join(hit.fits) or "no gate profile fits (an I/O module?)"
        console.print(f"unit {hit.unit}: {escape(fits)}", highlight=False)
    return [FoundGate(h.unit, h.fits[0]) for h in hits if h.fits]


def _ask(value: str, prompt: str, interactive: bool, default: str = "") -> str:
    if value or not interactive:
        return value or default
    return str(typer.prompt(prompt, default=default, show_default=bool(default)))


def _show_ports() -> None:
    ports = serial_ports()
    if not ports:
        console.print(f"no USB serial adapters found ({BY_ID} is empty)")
        return
    table = Table("serial port (stable name)", "now")
    for name, real in ports:
        table.add_row(escape(name), escape(real))
    console.print(table)


def init(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Where to write it."),
    non_interactive: bool = typer.Option(
        False, "--non-interactive", help="Ask nothing; take every answer from the options."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing config."),
    site_id: str = typer.Option("", "--site-id", help="The site id the hub knows."),
    site_name: str = typer.Option("", "--site-name", help="The name operators see."),
    timezone: str = typer.Option("", "--timezone", help="IANA zone, e.g. Asia/Shanghai."),
    store: str = typer.Option(
        "/var/lib/edgectl/edgectl.db", "--store", help="The SQLite database file."
    ),
    control_socket: str = typer.Option(
        "/run/edgectl/control.sock", "--control-socket", help="The daemon's control socket."
    ),
    bus_port: str = typer.Option("", "--bus-port", help="Serial port of the gate bus."),
    baud: int = typer.Option(9600, "--baud", help="Baud rate of the gate bus."),
    scan: bool = typer.Option(True, "--scan/--no-scan", help="Scan the bus for gates."),
    units: str = typer.Option("1-247", "--units", help="Unit ids to scan: 1-247, 1,5,9-12."),
    reader_ports: list[str] = typer.Option(
        [], "--reader-port", help="Serial port of a Wiegand converter (repeatable)."
    ),
    hub_url: str = typer.Option("", "--hub-url", help="The head-office hub; empty: no hub."),
    hub_token: str = typer.Option("", "--hub-token", help="This site's token from the hub."),
    broker: str = typer.Option("", "--broker", help="MQTT broker HOST[:PORT]; empty: none."),
    broker_user: str = typer.Option("", "--broker-user", help="MQTT user name."),
    broker_password: str = typer.Option("", "--broker-password", help="MQTT password."),
) -> None:
    """Write this site's config: ports, gates found on the bus, site, hub and broker."""
    from edgectl.cli.doctor import show

    interactive = not non_interactive
    if config.exists() and not force:
        err_console.print(f"[red]{config} exists[/]; use --force to replace it")
        raise typer.Exit(1)
    if interactive:
        _show_ports()
    answers = Answers(
        site_id=_ask(site_id, "site id (as the hub knows it)", interactive),
        site_name=site_name,
        timezone=_ask(timezone, "time zone", interactive, "Asia/Shanghai"),
        store=store,
        control_socket=control_socket,
        bus_port=_ask(bus_port, "gate bus serial port (empty: none)", interactive),
        baud=baud,
        reader_ports=reader_ports,
        hub_url=_ask(hub_url, "hub URL (empty: no hub)", interactive),
    )
    if not answers.site_id:
        err_console.print("[red]a site id is needed[/] (--site-id)")
        raise typer.Exit(2)
    try:
        zoneinfo.ZoneInfo(answers.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        err_console.print(
            f"[red]unknown time zone {answers.timezone!r}[/] (IANA, e.g. Asia/Shanghai)"
        )
        raise typer.Exit(2) from None
    answers.site_name = answers.site_name or answers.site_id
    if answers.hub_url:
        answers.hub_token = _ask(hub_token, "hub token for this site", interactive)
    host = _ask(broker, "MQTT broker host[:port] (empty: none)", interactive)
    if host:
        answers.broker_host, _, port = host.partition(":")
        answers.broker_port = int(port or 1883)
        answers.broker_user = _ask(broker_user, "MQTT user", interactive)
        answers.broker_password = _ask(broker_password, "MQTT password", interactive)
    gates: list[FoundGate] = []
    if (
        answers.bus_port
        and scan
        and (not interactive or typer.confirm("scan the bus for gates?", True))
    ):
        try:
            gates = scan_gates(answers.bus_port, baud, units_spec(units))
        except DeviceError as exc:
            err_console.print(f"[red]cannot scan {answers.bus_port}:[/] {exc}")
            raise typer.Exit(1) from None
        if not gates:
            console.print("no gate answered; add [[gates]] by hand after checking the wiring")
    config.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(fd, 0o600)
        f.write(render(answers, gates))
    try:
        load(config)
    except ConfigError as exc:  # a bug here, or an answer the loader refuses: say which
        err_console.print(f"[red]the written config is not valid:[/] {exc}")
        raise typer.Exit(2) from None
    console.print(f"wrote {config} (mode 0600) with {len(gates)} gate(s); now the doctor:")
    if show(config):
        console.print(f"fix what the doctor names, then: edgectl doctor --config {config}")
