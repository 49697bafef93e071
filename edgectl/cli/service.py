"""``edgectl service install``: put the systemd unit in place and create the service user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import typer

from edgectl.cli.common import console, err_console

app = typer.Typer(help="The systemd service.", no_args_is_help=True)

UNIT_NAME = "edgectl.service"
SERVICE_USER = "edgectl"


def unit_text(executable: str) -> str:
    """The shipped unit, with ExecStart pointing at this installation's edgectl."""
    text = _shipped_unit()
    return text.replace("/opt/edgectl/venv/bin/edgectl", executable)


def _shipped_unit() -> str:
    return (Path(__file__).resolve().parents[2] / "systemd" / UNIT_NAME).read_text()


def write_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only (a config holds the hub token and the
    broker password); it is never readable by others, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _run(cmd: list[str], dry_run: bool) -> None:
    console.print(f"$ {' '.join(cmd)}", highlight=False)
    if not dry_run:
        subprocess.run(cmd, check=True)


@app.command()
def install(
    root: Path = typer.Option(Path("/"), help="Install below this root (for images and tests)."),
    config_example: Path = typer.Option(
        Path(__file__).resolve().parents[2] / "config.example.toml", help="Config to start from."
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
            write_secret_file(config_path, config_example.read_bytes())
            console.print(f"wrote {config_path} (mode 0600: it holds the hub token; edit it)")
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
        if live:  # 0600 and owned by the service user, who alone reads it
            shutil.chown(config_path, SERVICE_USER, SERVICE_USER)
        if live and shutil.which("systemctl"):
            _run(["systemctl", "daemon-reload"], dry_run)
            if enable:
                _run(["systemctl", "enable", "--now", UNIT_NAME], dry_run)
    except (subprocess.CalledProcessError, OSError, LookupError) as exc:
        err_console.print(f"[red]failed:[/] {exc}")
        raise typer.Exit(1) from None
