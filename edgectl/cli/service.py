"""``edgectl service install``: put the systemd unit in place and create the service user."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
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


# Paths of the example config that belong to the simulator, and where a site keeps them:
# the unit gives the daemon StateDirectory=/var/lib/edgectl and RuntimeDirectory=/run/edgectl,
# and its PrivateTmp=yes hides /tmp from the CLI.
SITE_PATHS = {
    "/tmp/edgectl-sim/edgectl.db": "/var/lib/edgectl/edgectl.db",
    "/tmp/edgectl-sim/control.sock": "/run/edgectl/control.sock",
}


def site_config(example: str) -> str:
    """The example config with its store and socket moved to the service's own directories."""
    for sim_path, site_path in SITE_PATHS.items():
        example = example.replace(f'"{sim_path}"', f'"{site_path}"')
    return example


@dataclass(frozen=True, slots=True)
class Step:
    """One thing ``install`` does: write a file, or run a command."""

    what: str
    path: Path | None = None
    text: str = ""
    mode: int = 0o644
    owner: str | None = None  # chown to this user when it exists (only on the live root)
    command: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.command:
            return "run   " + " ".join(self.command)
        return f"write {self.path} (mode {self.mode:04o}{', owner ' + self.owner if self.owner else ''}): {self.what}"

    def carry_out(self) -> None:
        if self.command:
            subprocess.run(list(self.command), check=True)
            return
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.mode)
        with os.fdopen(fd, "w") as f:
            os.fchmod(fd, self.mode)  # also when the file already existed with another mode
            f.write(self.text)
        if self.owner:
            with contextlib.suppress(KeyError):
                shutil.chown(self.path, user=self.owner, group=self.owner)


def _user_exists(name: str) -> bool:
    return subprocess.run(["id", name], capture_output=True).returncode == 0


def plan(root: Path, exe: str, example: str, *, enable: bool) -> list[Step]:
    """Every step of an install below ``root``; only the live root ('/') touches users and systemd."""
    live = root == Path("/")
    config_path = root / "etc/edgectl/config.toml"
    steps = [Step("the systemd unit", root / "etc/systemd/system" / UNIT_NAME, unit_text(exe))]
    if live and not _user_exists(SERVICE_USER):
        steps.append(
            Step(
                "the service user, in dialout for the serial ports",
                command=(
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--groups",
                    "dialout",
                    SERVICE_USER,
                ),
            )
        )
    if not config_path.exists():
        steps.append(
            Step(
                "the site config (it will hold the hub token and broker password, so only the "
                "service user reads it)",
                config_path,
                site_config(example),
                mode=0o600,
                owner=SERVICE_USER if live else None,
            )
        )
    if live and shutil.which("systemctl"):
        steps.append(Step("reload units", command=("systemctl", "daemon-reload")))
        if enable:
            steps.append(
                Step("start now and at boot", command=("systemctl", "enable", "--now", UNIT_NAME))
            )
    return steps


@app.command()
def install(
    root: Path = typer.Option(Path("/"), help="Install below this root (for images and tests)."),
    config_example: Path | None = typer.Option(
        None, help="Config to start from (default: the shipped, commented example)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print every step; change nothing."),
    enable: bool = typer.Option(False, "--enable", help="Enable and start the service."),
) -> None:
    """Install the unit, the service user (in 'dialout') and a starting config."""
    exe = shutil.which("edgectl") or str(Path(sys.argv[0]).resolve())
    example = config_example.read_text() if config_example else shipped.text("config.example.toml")
    steps = plan(root, exe, example, enable=enable)
    for step in steps:
        console.print(("would " if dry_run else "") + step.describe(), highlight=False)
        if dry_run:
            continue
        try:
            step.carry_out()
        except (subprocess.CalledProcessError, OSError) as exc:
            err_console.print(f"[red]failed:[/] {step.what}: {exc}", highlight=False)
            raise typer.Exit(1) from None
    if not dry_run and any(s.path and s.path.name == "config.toml" for s in steps):
        console.print(
            "next: edit the config for this site (or run `edgectl init`), then `edgectl doctor`"
        )
