"""``edgectl gate``: open, close or stop a barrier gate, through the daemon or directly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from drivers.base import DeviceError
from edgectl.cli.common import ConfigOption, console, err_console, load_or_exit
from edgectl.commands.direct import gate_command
from edgectl.control_client import request

app = typer.Typer(help="Barrier gates.", no_args_is_help=True)


def _send(config: Path, command: str, gate_id: str) -> None:
    cfg = load_or_exit(config)
    if gate_id not in {g.id for g in cfg.gates}:
        err_console.print(
            f"[red]unknown gate {gate_id!r}[/]; configured: {[g.id for g in cfg.gates]}"
        )
        raise typer.Exit(2)
    body = {"command": command, "target": gate_id}
    try:
        status, reply = asyncio.run(
            request(cfg.daemon.control_socket, "POST", "/v1/commands", body)
        )
    except OSError:
        console.print(f"daemon not running; sending {command} to {gate_id} directly on the bus")
        try:
            asyncio.run(gate_command(cfg, command, gate_id))
        except (DeviceError, OSError) as exc:
            err_console.print(f"[red]failed:[/] {exc}")
            raise typer.Exit(1) from None
        console.print(f"[green]ok[/] ({command} {gate_id}, direct; journaled as cli-direct)")
        return
    if status != 200:
        err_console.print(f"[red]failed:[/] {reply.get('message', reply)} (via daemon)")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] ({command} {gate_id}, via daemon)")


@app.command("open")
def open_(gate_id: str = typer.Argument(..., metavar="ID"), config: Path = ConfigOption) -> None:
    """Open a gate."""
    _send(config, "gate/open", gate_id)


@app.command("close")
def close(gate_id: str = typer.Argument(..., metavar="ID"), config: Path = ConfigOption) -> None:
    """Close a gate."""
    _send(config, "gate/close", gate_id)


@app.command("stop")
def stop(gate_id: str = typer.Argument(..., metavar="ID"), config: Path = ConfigOption) -> None:
    """Stop a moving gate."""
    _send(config, "gate/stop", gate_id)
