"""Send a work-order or patrol command to the running daemon: the command table's
``noun/verb`` on the control socket's ``/v1/commands``, like every other CLI command."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from edgectl.cli.common import console, err_console, load_or_exit
from edgectl.config import Config
from edgectl.control_client import request
from edgectl.store.db import StoreError, connect


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def call(cfg: Config, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The command's result; exit 1 with the daemon's message if it refused."""
    try:
        status, reply = asyncio.run(
            request(cfg.daemon.control_socket, "POST", "/v1/commands", {"command": name, **body})
        )
    except OSError:
        raise fail(
            f"the daemon is not running (no control socket at {cfg.daemon.control_socket}); "
            "work orders and patrols are kept by the daemon: start it with `edgectl run`"
        ) from None
    if status != 200 or reply.get("status") != "ok":
        raise fail(f"{reply.get('code', status)}: {reply.get('message', reply)}")
    result: dict[str, Any] = reply["result"]
    return result


def show(doc: dict[str, Any]) -> None:
    console.print_json(json.dumps(doc, ensure_ascii=False, default=str))


def read_store(cfg: Config) -> sqlite3.Connection:
    try:
        return connect(cfg.store.path, readonly=True)
    except StoreError as exc:
        raise fail(str(exc)) from None


def local_day(cfg: Config, text: str, *, default_back: int) -> date:
    """``--day YYYY-MM-DD``, or the site's local today minus ``default_back`` days; exit 2."""
    try:
        if text:
            return date.fromisoformat(text)
    except ValueError:
        raise fail(f"--day: expected YYYY-MM-DD, got {text!r}", 2) from None
    return datetime.now(cfg.site.zone).date() - timedelta(days=default_back)


JsonOption = typer.Option(False, "--json", help="Print JSON.")


def day_option(default: str) -> Any:
    return typer.Option("", "--day", "-d", help=f"Local day YYYY-MM-DD (default: {default}).")


def open_day(
    config: Path, day: str, *, default_back: int
) -> tuple[Config, date, sqlite3.Connection]:
    """The config, the local day asked for, and the store opened read-only."""
    cfg = load_or_exit(config)
    return cfg, local_day(cfg, day, default_back=default_back), read_store(cfg)
