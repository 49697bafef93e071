"""Barrier gates on RS-485 (Modbus RTU) and Modbus TCP; see docs/rs485.md."""

from __future__ import annotations

from collections.abc import Sequence

from drivers.modbus.direct import oneshot, read_snapshot
from drivers.modbus.driver import GateBusDriver
from edgectl.config import Bus, Gate

__all__ = ["GateBusDriver", "build", "oneshot", "read_snapshot"]


def build(bus: Bus, gates: Sequence[Gate]) -> GateBusDriver:
    """The driver for ``bus`` and the ``gates`` on it (gates on other buses are ignored)."""
    return GateBusDriver(bus, [g for g in gates if g.bus == bus.id])
