"""Every command and every option of the command line says what it is for."""

from __future__ import annotations

from typing import Any

import typer.main

from edgectl.cli.main import app


def _walk(command: Any, path: str) -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _walk(sub, f"{path} {name}")
    return found


def test_every_command_and_option_has_help() -> None:
    commands = _walk(typer.main.get_command(app), "edgectl")
    assert len(commands) > 20  # the walk reaches the subcommands
    missing = []
    for path, command in commands:
        if not (command.help or command.short_help):
            missing.append(f"{path}: command has no help")
        for param in command.params:
            if param.param_type_name == "option" and not param.help:
                missing.append(f"{path}: {'/'.join(param.opts)} has no help")
    assert missing == []
