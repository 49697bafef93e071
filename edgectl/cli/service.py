"""``edgectl service install``: put the systemd unit in place and create the service user."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import typer

from edgectl import data as shipped
from edgectl.cli.common import console, err_console

app = typer.Typer(help="The systemd service.", no_args_is_help=True)

UNIT_NAME = "edgectl.service"
SERVICE_USER = "edgectl"


def unit_text(executable: str) -> str:
    """The shipped unit, with ExecStart pointing at this installation's edgectl."""
    text = _shipped_unit()
    return text.replace("/opt/edgectl/venv/bin/edgectl", executable)


def _shipped_unit() -> str:
    return shipped.text(UNIT_NAME)


def _run(cmd: list[str], dry_run: bool) -> None:
    console.print(f"$ {' '.join(cmd)}", highlight=False)
    if not dry_run:
        subprocess.run(cmd, check=True)


@app.command()
def install(
    root: Path = typer.Option(Path("/"), help="Install below this root (for images and tests)."),
    config_example: Path | None = typer.Option(
        None, help="Config to start from (default: the shipped, commented example)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be done."),
    enable: bool = typer.Option(False, "--enable", help="Enable and start the service."),
) -> None:
    """Install the unit, the service user (in 'dialout') and a starting config."""
    exe = shutil.which("edgectl") or str(Path(sys.argv[0]).resolve())
    unit_path = root / "etc/systemd/system" / UNIT_NAME
    config_path = root / "etc/edgectl/config.toml"
    live = root == Path("/") and not dry_run
    if not dry_run:
        unit_path.parent.mkdir(parents=True, exist_ok=True)
        unit_path.write_text(unit_text(exe))
        if not config_path.exists():
            config_path.parent.mkdir(parents=True, exist_ok=True)
            start = (
                config_example.read_text()
                if config_example
                else shipped.text("config.example.toml")
            )
            config_path.write_text(start)
            console.print(f"wrote {config_path} (edit it for this site)")
    console.print(f"unit: {unit_path} (ExecStart={exe} run)")
    if root != Path("/"):
        return
    try:
        if subprocess.run(["id", SERVICE_USER], capture_output=True).returncode != 0:
            _run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--groups",
                    "dialout",
                    SERVICE_USER,
                ],
                dry_run,
            )
        if live and shutil.which("systemctl"):
            _run(["systemctl", "daemon-reload"], dry_run)
            if enable:
                _run(["systemctl", "enable", "--now", UNIT_NAME], dry_run)
    except (subprocess.CalledProcessError, OSError) as exc:
        err_console.print(f"[red]failed:[/] {exc}")
        raise typer.Exit(1) from None
