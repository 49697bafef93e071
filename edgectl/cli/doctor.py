"""``edgectl doctor``: check that this box can run the site, and say what is wrong."""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from edgectl import control
from edgectl.cli.common import ConfigOption, console
from edgectl.config import Config, ConfigError, load
from edgectl.store.db import StoreError, open_store
from edgectl.store.recover import quick_check

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def clock_synchronised() -> Check:
    """Ask the kernel (adjtimex) whether NTP has synchronised the clock."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError) as exc:
        return Check("clock", False, f"cannot ask the kernel: {exc}")
    if state == TIME_ERROR:
        return Check("clock", False, "not synchronised (adjtimex TIME_ERROR); schedules may be off")
    if state < 0:
        return Check("clock", False, f"adjtimex failed: {os.strerror(ctypes.get_errno())}")
    return Check("clock", True, "synchronised")


def database(cfg: Config) -> Check:
    try:
        conn = open_store(cfg.store.path)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        problems = quick_check(conn)
        conn.close()
    except (StoreError, sqlite3.Error) as exc:
        return Check("database", False, f"{cfg.store.path}: {exc}")
    if problems:
        return Check(
            "database",
            False,
            f"{cfg.store.path} is damaged: {'; '.join(problems)}; run `edgectl db recover`",
        )
    return Check("database", True, f"{cfg.store.path} writable")


def serial_port(owner: str, port: str) -> Check:
    name = f"serial {owner}"
    real = os.path.realpath(port)
    if not os.path.exists(port):
        return Check(name, False, f"{port} does not exist (unplugged, or wrong by-id path?)")
    if not os.access(real, os.R_OK | os.W_OK):
        return Check(
            name, False, f"{port} not readable/writable by this user (add it to 'dialout')"
        )
    return Check(name, True, port if real == port else f"{port} -> {real}")


def tcp_reachable(name: str, host: str, port: int, required: bool) -> Check:
    try:
        with socket.create_connection((host, port), timeout=2):
            return Check(name, True, f"{host}:{port} reachable", required)
    except OSError as exc:
        return Check(name, False, f"{host}:{port} unreachable: {exc}", required)


def hub(cfg: Config) -> Check:
    url = urllib.parse.urlsplit(cfg.hub.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return tcp_reachable("hub", url.hostname or "", port, required=False)


def running_daemon(cfg: Config) -> list[Check]:
    """What the running daemon says of itself: each driver's own health, the watchdog."""
    path = cfg.daemon.control_socket
    try:
        _, body = asyncio.run(control.request(path, "GET", "/v1/status", timeout=3.0))
    except (OSError, TimeoutError):
        return [Check("daemon", False, f"not running (nothing answers on {path})", False)]
    checks = [Check("daemon", True, f"running, control socket {path}")]
    for driver_id, health in sorted(body.get("drivers", {}).items()):
        restarts = health.get("restarts", 0)
        detail = health.get("detail") or ("online" if health.get("online") else "offline")
        detail += f"; {restarts} restart(s)" if restarts else ""
        checks.append(Check(f"driver {driver_id}", bool(health.get("online")), detail, False))
    problems = body.get("problems", [])
    checks.append(Check("watchdog", not problems, "; ".join(problems) or "kept alive"))
    return checks


def run_checks(config: Path) -> list[Check]:
    try:
        cfg = load(config)
    except ConfigError as exc:
        return [Check("config", False, str(exc))]
    checks = [Check("config", True, str(config)), database(cfg)]
    checks += [serial_port(b.id, b.port) for b in cfg.buses if b.kind == "rtu"]
    checks += [serial_port(r.id, r.port) for r in cfg.readers]
    checks += [
        tcp_reachable(f"modbus {b.id}", b.host, b.tcp_port, True)
        for b in cfg.buses
        if b.kind == "tcp"
    ]
    if cfg.mqtt.enabled:
        checks.append(tcp_reachable("mqtt broker", cfg.mqtt.host, cfg.mqtt.port, required=False))
    if cfg.hub.enabled:
        checks.append(hub(cfg))
    checks.append(clock_synchronised())
    return checks + running_daemon(cfg)


def doctor(config: Path = ConfigOption) -> None:
    """Check the config, the database, serial ports, broker, hub and clock."""
    checks = run_checks(config)
    table = Table(title="edgectl doctor")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]warn[/]")
        table.add_row(c.name, mark, Text(c.detail))
    console.print(table)
    failed = [c for c in checks if not c.ok and c.required]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed[/]")
        raise typer.Exit(1)
