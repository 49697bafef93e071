"""Helpers every CLI command shares: loading the config with a clean exit on error."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from edgectl.config import Config, ConfigError, load
from edgectl.site.service import SiteService
from edgectl.store.credentials import CredentialError
from edgectl.store.db import StoreError, open_store

DEFAULT_CONFIG = Path("/etc/edgectl/config.toml")
console = Console()
err_console = Console(stderr=True)

ConfigOption = typer.Option(
    DEFAULT_CONFIG, "--config", "-c", envvar="EDGECTL_CONFIG", help="Site config file (TOML)."
)


def plain(text: str, *, err: bool = False) -> None:
    """Print text as it is: names and CSV fields are never rich markup or emoji codes."""
    (err_console if err else console).print(
        text, markup=False, emoji=False, highlight=False, soft_wrap=True
    )


def load_or_exit(path: Path) -> Config:
    """Load the config; on error print what is wrong and exit with code 2."""
    try:
        return load(path)
    except ConfigError as exc:
        err_console.print(f"[bold red]config error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message``; raise the returned Exit (1: failed, 2: bad usage)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def open_db(cfg: Config) -> sqlite3.Connection:
    """The site's store for reads, or a clean exit naming what is wrong."""
    try:
        return open_store(cfg.store.path)
    except StoreError as exc:
        raise fail(str(exc)) from None


def open_site(cfg: Config) -> SiteService:
    """The site service on its own connection, or a clean exit naming what is wrong."""
    try:
        return SiteService.open(cfg)
    except StoreError as exc:
        raise fail(str(exc)) from None


@contextmanager
def site_change(cfg: Config, code: int = 1) -> Iterator[SiteService]:
    """The site service for a change from the command line; a change it refuses
    (``CredentialError``) is printed as an error and exits with ``code``."""
    with closing(open_site(cfg)) as site:
        try:
            yield site
        except CredentialError as exc:
            raise fail(str(exc), code) from None


def print_json_lines(items: Iterable[dict[str, Any]]) -> None:
    """``--json``: one JSON object per line."""
    for item in items:
        console.print(json.dumps(item), highlight=False, soft_wrap=True)
