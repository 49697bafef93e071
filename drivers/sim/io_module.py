"""A simulated Modbus I/O module (relay outputs on coils, digital inputs) for door strikes
and door contacts, speaking real Modbus through the same simulated bus as the gates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.modbus.frames import READ_DISCRETE, WRITE_COIL


class SimIoModule:
    """``relays`` coils and ``inputs`` discrete inputs. Set inputs; read the relay log."""

    def __init__(
        self,
        unit: int,
        relays: int = 8,
        inputs: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unit = unit
        self.clock = clock
        self.relays = [False] * relays
        self.inputs = [False] * inputs
        self.writes: list[tuple[float, int, bool]] = []  # (monotonic time, coil, on)
        self.delay_s = 0.0  # a slow module: it switches at once but answers writes this late

    def set_input(self, index: int, value: bool) -> None:
        self.inputs[index] = value

    def take_fault(self, _kinds: object) -> None:
        """No wire faults are injected on the I/O module."""
        return None

    def device(self) -> SimDevice:
        return SimDevice(
            self.unit,
            simdata=(
                [SimData(0, count=len(self.relays), values=False, datatype=DataType.BITS)],
                [SimData(0, count=len(self.inputs), values=False, datatype=DataType.BITS)],
                [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
                [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
            ),
            action=partial(SimIoModule._access, self),
        )

    async def _access(
        self,
        function: int,
        start: int,
        address: int,
        count: int,
        current: list[int] | list[bool],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if function == WRITE_COIL and values is not None:
            on = bool(values[0])
            self.relays[address] = on
            self.writes.append((self.clock(), address, on))
            await asyncio.sleep(self.delay_s)
        elif function == READ_DISCRETE:
            for i in range(len(current)):
                if 0 <= start + i < len(self.inputs):
                    current[i] = self.inputs[start + i]
        return None
