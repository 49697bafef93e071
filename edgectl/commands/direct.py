"""The CLI's fallback when no daemon answers: carry out a gate command on the bus itself,
and journal it like any other command (``interface = "cli-direct"``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from drivers.base import DeviceError
from edgectl.commands import local
from edgectl.config import Config
from edgectl.domain import CloseGate, Command, OpenGate, OperatorCommand, PartialOpenGate, StopGate
from edgectl.store.journal import Journal

GATE_COMMANDS: dict[str, type[OpenGate | CloseGate | StopGate | PartialOpenGate]] = {
    "gate/open": OpenGate,
    "gate/close": CloseGate,
    "gate/stop": StopGate,
    "gate/partial_open": PartialOpenGate,
}


async def gate_command(cfg: Config, name: str, gate_id: str) -> None:
    """Run ``name`` (``gate/open``, ...) on ``gate_id`` over the bus; journal what happened
    (also a failure); raise DeviceError or OSError if the gate was not commanded."""
    from drivers import modbus

    gate = cfg.gate(gate_id)
    command: Command = GATE_COMMANDS[name](target=gate_id)
    error: str | None = None
    try:
        await modbus.oneshot(cfg.bus(gate.bus), gate, command)
    except (DeviceError, OSError) as exc:
        error = f"device_error: {exc}"
        raise
    finally:
        await _journal(cfg, name, gate_id, error)


async def _journal(cfg: Config, name: str, target: str, error: str | None) -> None:
    journal = Journal(cfg.store.path)
    try:
        await journal.append(
            OperatorCommand(
                source=f"local:{local.user_name(os.getuid())}",
                at=datetime.now(UTC),
                interface="cli-direct",
                command=name,
                target=target,
                outcome="error" if error else "ok",
                error=error,
            )
        )
    finally:
        await journal.close()
