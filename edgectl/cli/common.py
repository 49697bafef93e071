"""Helpers every CLI command shares: loading the config with a clean exit on error."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from edgectl.config import Config, ConfigError, load

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
