"""Barrier gates on RS-485 (Modbus RTU) and Modbus TCP; see docs/rs485.md.

The driver (and with it pymodbus and pyserial) is imported on first use of a name below,
not by importing this package: ``drivers.modbus.settings`` and ``drivers.modbus.profile``
are loaded with the site config, which must not import a driver library.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivers.modbus.direct import oneshot, read_snapshot
    from drivers.modbus.driver import GateBusDriver
    from drivers.modbus.settings import Bus, Door, Gate

__all__ = ["GateBusDriver", "build", "oneshot", "read_snapshot"]

_LAZY = {
    "GateBusDriver": "drivers.modbus.driver",
    "oneshot": "drivers.modbus.direct",
    "read_snapshot": "drivers.modbus.direct",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build(bus: Bus, gates: Sequence[Gate], doors: Sequence[Door] = ()) -> GateBusDriver:
    """The driver for ``bus``, its ``gates`` and the doors whose relay or contact is on it
    (devices on other buses are ignored)."""
    from drivers.modbus.driver import GateBusDriver

    return GateBusDriver(bus, [g for g in gates if g.bus == bus.id], doors)
