"""``edgectl doctor``: check that this box can run the site, and say what is wrong."""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sqlite3
from dataclasses import replace
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from edgectl import control_client
from edgectl.cli.common import ConfigOption, console
from edgectl.config import Config, ConfigError, load
from edgectl.doctor import Check, files, ports
from edgectl.doctor.daemon import daemon_pid
from edgectl.store.db import StoreError, open_store
from edgectl.store.recover import quick_check

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


def clock_synchronised() -> Check:
    """Ask the kernel (adjtimex) whether NTP has synchronised the clock."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError) as exc:
        return Check("clock", False, f"cannot ask the kernel: {exc}")
    if state == TIME_ERROR:
        return Check(
            "clock",
            False,
            "not synchronised (adjtimex TIME_ERROR); schedules may be off",
            "timedatectl set-ntp true (or configure chrony)",
        )
    if state < 0:
        return Check("clock", False, f"adjtimex failed: {os.strerror(ctypes.get_errno())}")
    return Check("clock", True, "synchronised")


def database(cfg: Config) -> Check:
    path = Path(cfg.store.path)
    if not path.exists():
        # Creating it here would leave a file owned by whoever runs doctor (often root).
        if not os.access(path.parent, os.W_OK):
            return Check(
                "database",
                False,
                f"{path.parent} does not exist or is not writable",
                f"mkdir -p {path.parent} (the unit's StateDirectory makes /var/lib/edgectl)",
            )
        return Check("database", True, f"{path} not created yet; the daemon creates it")
    try:
        conn = open_store(cfg.store.path)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        problems = quick_check(conn)
        conn.close()
    except (StoreError, sqlite3.Error) as exc:
        return Check("database", False, f"{path}: {exc}", "see the message; edgectl db recover")
    if problems:
        return Check(
            "database",
            False,
            f"{path} is damaged: {'; '.join(problems)}",
            "stop the daemon, then: edgectl db recover",
        )
    return Check("database", True, f"{path} writable")


def tcp_reachable(name: str, host: str, port: int) -> Check:
    try:
        with socket.create_connection((host, port), timeout=2):
            return Check(name, True, f"{host}:{port} reachable")
    except OSError as exc:
        return Check(
            name, False, f"{host}:{port} unreachable: {exc}", "check the gateway's address"
        )


async def _remote_checks(cfg: Config, daemon_running: bool) -> list[Check]:
    from edgectl.doctor import gates, remote

    checks = await gates.gates(cfg, daemon_running)
    checks.append(
        await remote.broker(cfg) if cfg.mqtt.enabled else Check.disabled("mqtt broker", "mqtt")
    )
    checks.append(await remote.hub(cfg) if cfg.hub.enabled else Check.disabled("hub", "hub"))
    return checks


def running_daemon(cfg: Config, pid: int | None) -> list[Check]:
    """What the running daemon says of itself: each driver's own health, the watchdog."""
    path = cfg.daemon.control_socket
    not_running = [Check("daemon", False, f"not running (nothing answers on {path})", "", False)]
    if pid is None:
        return not_running
    try:
        _, body = asyncio.run(control_client.request(path, "GET", "/v1/status", timeout=3.0))
    except (OSError, TimeoutError):
        return not_running
    checks = [Check("daemon", True, f"running, pid {pid}, control socket {path}")]
    for driver_id, health in sorted(body.get("drivers", {}).items()):
        restarts = health.get("restarts", 0)
        detail = health.get("detail") or ("online" if health.get("online") else "offline")
        detail += f"; {restarts} restart(s)" if restarts else ""
        checks.append(
            Check(f"driver {driver_id}", bool(health.get("online")), detail, required=False)
        )
    problems = body.get("problems", [])
    checks.append(Check("watchdog", not problems, "; ".join(problems) or "kept alive"))
    return checks


def run_checks(config: Path) -> list[Check]:
    try:
        cfg = load(config)
    except ConfigError as exc:
        return [Check("config", False, str(exc), "edit the config at the key named")]
    pid = daemon_pid(cfg.daemon.control_socket)
    checks = [
        Check("config", True, str(config)),
        files.config_file(config),
        database(cfg),
        files.store_file(Path(cfg.store.path)),
    ]
    checks += [ports.serial_port(b.id, b.port, pid) for b in cfg.buses if b.kind == "rtu"]
    checks += [ports.serial_port(r.id, r.port, pid) for r in cfg.readers]
    checks += [
        tcp_reachable(f"modbus {b.id}", b.host, b.tcp_port) for b in cfg.buses if b.kind == "tcp"
    ]
    if all(c.ok for c in checks if c.name.startswith(("serial", "modbus"))):
        checks += asyncio.run(_remote_checks(cfg, pid is not None))
    else:
        if cfg.gates:
            checks.append(Check("gates", False, "not checked: a bus port above is unusable"))
        checks += asyncio.run(_remote_checks(replace(cfg, gates=()), pid is not None))
    checks.append(clock_synchronised())
    return checks + running_daemon(cfg, pid)


def show(config: Path) -> int:
    """Run every check on ``config``, print the table, and return how many failed."""
    checks = run_checks(config)
    table = Table(title="edgectl doctor")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    table.add_column("fix", overflow="fold")
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]warn[/]")
        table.add_row(Text(c.name), mark, Text(c.detail), Text(c.fix))
    console.print(table)
    failed = [c for c in checks if not c.ok and c.required]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed[/]")
    return len(failed)


def doctor(config: Path = ConfigOption) -> None:
    """Check config, files, ports, gates, broker login, hub login and clock; name each fix."""
    if show(config):
        raise typer.Exit(1)
