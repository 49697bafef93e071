"""A simulated barrier gate that speaks real Modbus (pymodbus server), driven by a profile.

The gate moves: an open command starts an opening ramp that reaches 100 % after the
profile's travel time, a close ramps back down, stop freezes the boom, partial open stops
at the profile's partial position. Its register map, command coils or command register,
state values and flag bits all come from the same profile file the driver uses.

Faults can be injected per unit: a gate fault code (the gate then refuses to move), or a
wire fault on its replies: silence, a late reply (``slow``), CRC errors, replies that
claim another unit, garbage, truncated frames and Modbus exception replies.

``start_sim_gates`` runs one server for a whole simulated bus, on a serial port (one end
of a pty pair, RTU) or on TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.modbus import profile as profiles
from drivers.modbus.frames import WRITE_COIL, WRITE_REGISTER, crc16
from drivers.modbus.profile import Profile
from drivers.sim.io_module import SimIoModule

WireFault = Literal["silence", "slow", "crc", "wrong_unit", "garbage", "truncate", "exception"]
DATASTORE_FAULTS = frozenset({"slow", "exception"})  # act before the reply is built
WIRE_FAULTS = frozenset({"silence", "crc", "wrong_unit", "garbage", "truncate"})
MOVING = {"opening": 1, "closing": -1}


@dataclass
class GateModel:
    """Boom position and state over time; ``now`` is always passed in (monotonic seconds)."""

    profile: Profile
    phase: str = "closed"
    pos0: float = 0.0
    t0: float = 0.0
    target: float = 0.0
    fault_code: int = 0
    vehicle: bool = False
    obstacle: bool = False
    counters: list[int] = field(default_factory=list)
    commands: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counters = [0] * len(self.profile.registers.counters)

    def position(self, now: float) -> float:
        if self.phase not in MOVING:
            return self.pos0
        rate = 100.0 / self.profile.timing.travel_s
        pos = self.pos0 + MOVING[self.phase] * rate * (now - self.t0)
        return min(pos, self.target) if self.phase == "opening" else max(pos, self.target)

    def settle(self, now: float) -> str:
        """Finish a movement whose end time has passed; return the current state."""
        if self.phase in MOVING and self.position(now) == self.target:
            self.pos0 = self.target
            self.phase = {0.0: "closed", 100.0: "open"}.get(self.target, "partly_open")
            if self.counters and self.phase == "open":
                self.counters[0] += 1
        return (
            "fault" if self.fault_code and "fault" in self.profile.states.values() else self.phase
        )

    def command(self, name: str, now: float) -> None:
        self.commands.append((now, name))
        self.settle(now)
        pos = self.position(now)
        if self.fault_code and name != "stop":
            return  # a faulted gate refuses to move
        targets = {
            "open": 100.0,
            "close": 0.0,
            "partial": float(self.profile.timing.partial_percent),
        }
        self.pos0, self.t0 = pos, now
        if name == "stop":
            self.phase = "stopped"
        elif targets[name] != pos:
            self.target = targets[name]
            self.phase = "opening" if self.target > pos else "closing"

    def registers(self, now: float) -> dict[int, int]:
        """Holding register values at ``now``."""
        p, r = self.profile, self.profile.registers
        values = {r.state: p.state_value(self.settle(now))}
        flags = 0
        for bit, on in (
            (p.bits.vehicle_loop, self.vehicle),
            (p.bits.obstacle, self.obstacle),
            (p.bits.fault, bool(self.fault_code)),
        ):
            if bit is not None and on:
                flags |= 1 << bit
        for addr, value in (
            (r.position, round(self.position(now))),
            (r.flags, flags),
            (r.fault, self.fault_code),
        ):
            if addr is not None:
                values[addr] = value
        values.update(zip(r.counters, self.counters, strict=True))
        return values


@dataclass
class Injection:
    """A wire fault on a unit's replies, for ``count`` replies (None: until cleared)."""

    fault: WireFault
    count: int | None = None
    delay_s: float = 1.0  # for "slow"


class SimGate:
    """One simulated gate: its model, its pymodbus device and its injected wire faults."""

    def __init__(self, unit: int, profile: Profile, clock: Callable[[], float]) -> None:
        self.unit = unit
        self.model = GateModel(profile)
        self.clock = clock
        self.injection: Injection | None = None

    def inject(
        self, fault: WireFault | None, count: int | None = None, delay_s: float = 1.0
    ) -> None:
        self.injection = Injection(fault, count, delay_s) if fault else None

    def take_fault(self, kinds: frozenset[str]) -> WireFault | None:
        """Use up one injected fault of one of ``kinds``, if one is armed."""
        inj = self.injection
        if inj is None or inj.fault not in kinds:
            return None
        if inj.count is not None:
            inj.count -= 1
            if inj.count <= 0:
                self.injection = None
        return inj.fault

    def device(self) -> SimDevice:
        p = self.model.profile
        regs = [*p.poll_addresses]
        regs += [a.register for a in self._actions().values() if a.register is not None]
        coils = [a.coil for a in self._actions().values() if a.coil is not None] or [0]
        return SimDevice(
            self.unit,
            simdata=(
                [SimData(0, count=max(coils) + 1, values=False, datatype=DataType.BITS)],
                [SimData(0, count=1, values=False, datatype=DataType.BITS)],
                [SimData(0, count=max(regs) + 1, values=0, datatype=DataType.REGISTERS)],
                [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
            ),
            action=partial(SimGate._access, self),
        )

    def _actions(self) -> dict[str, profiles.Action]:
        c = self.model.profile.commands
        acts = {"open": c.open, "close": c.close, "stop": c.stop}
        return acts | ({"partial": c.partial} if c.partial else {})

    async def _access(
        self,
        function: int,
        start: int,
        address: int,
        count: int,
        current: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        delay_s = self.injection.delay_s if self.injection else 0.0
        match self.take_fault(DATASTORE_FAULTS):
            case "slow":
                await asyncio.sleep(delay_s)
            case "exception":
                return ExcCodes.DEVICE_FAILURE
        now = self.clock()
        if values:
            self._write(function, address, int(values[0]), now)
        elif function in (3, 4):
            for addr, value in self.model.registers(now).items():
                if 0 <= addr - start < len(current):
                    current[addr - start] = value
        return None

    def _write(self, function: int, address: int, value: int, now: float) -> None:
        for name, act in self._actions().items():
            by_coil = function == WRITE_COIL and act.coil == address and value
            by_reg = function == WRITE_REGISTER and act.register == address and act.value == value
            if by_coil or by_reg:
                self.model.command(name, now)


def mangle(packet: bytes, fault: WireFault | None, *, tcp: bool = False) -> bytes:
    """Apply a wire fault to an outgoing reply (RTU frame, or MBAP frame with ``tcp``)."""
    if tcp:
        return _mangle_tcp(packet, fault)
    match fault:
        case "silence":
            return b""
        case "crc":
            return packet[:-1] + bytes([packet[-1] ^ 0xFF])
        case "wrong_unit":
            head = bytes([(packet[0] % 247) + 1]) + packet[1:-2]
            return head + crc16(head)
        case "garbage":
            return random.randbytes(len(packet))
        case "truncate":
            return packet[: max(1, len(packet) - 3)]
    return packet


def _mangle_tcp(packet: bytes, fault: WireFault | None) -> bytes:
    match fault:
        case "silence":
            return b""
        case "wrong_unit":
            return packet[:6] + bytes([(packet[6] % 247) + 1]) + packet[7:]
        case "crc" | "garbage":
            return packet[:7] + random.randbytes(len(packet) - 7)
        case "truncate":
            return packet[:-3]
    return packet


class SimGates:
    """A running simulated bus: ``gates`` by unit id; ``await stop()`` when done."""

    server: ModbusSerialServer | ModbusTcpServer

    def __init__(
        self, gates: dict[int, SimGate], *, tcp: bool, io: Mapping[int, SimIoModule] | None = None
    ) -> None:
        self.gates = gates
        self.io = dict(io or {})
        self.tcp = tcp

    def trace(self, sending: bool, packet: bytes) -> bytes:
        """pymodbus packet hook: apply the addressed unit's injected wire fault to its reply."""
        if not sending or not packet:
            return packet
        unit = packet[6] if self.tcp else packet[0]
        gate = self.gates.get(unit) or self.io.get(unit)
        if gate is None:
            return b""  # pymodbus answers absent units with an exception; a real bus is silent
        return mangle(packet, gate.take_fault(WIRE_FAULTS), tcp=self.tcp)

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):  # a wedged pymodbus transport must not hang
            await asyncio.wait_for(self.server.shutdown(), 5)  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
        # pymodbus keeps a listener's "relisten" task alive through shutdown; a replugged
        # port at the same path would otherwise be reopened by this stopped server.
        if (task := self.server.reconnect_task) is not None:
            task.cancel()


async def start_sim_gates(
    port: str,
    units: Mapping[int, str | Profile],
    *,
    baud: int = 9600,
    host: str = "127.0.0.1",
    tcp_port: int = 0,
    clock: Callable[[], float] = time.monotonic,
    io_modules: Mapping[int, SimIoModule] | None = None,
) -> SimGates:
    """Serve simulated gates (unit id -> profile name or Profile) on ``port`` (RTU) or TCP.

    ``port`` is a serial device (e.g. the device end of a pty pair); pass ``port=""`` and a
    ``tcp_port`` for Modbus TCP on ``host``. ``io_modules`` (unit -> SimIoModule) share the
    bus, for door relays and contacts. Units not listed stay silent, as on a real bus.
    """
    gates = {
        unit: SimGate(unit, profiles.load(p) if isinstance(p, str) else p, clock)
        for unit, p in units.items()
    }
    devices = [g.device() for g in gates.values()]
    devices += [m.device() for m in (io_modules or {}).values()]
    bus = SimGates(gates, tcp=not port, io=io_modules)
    if port:
        bus.server = ModbusSerialServer(
            devices,
            port=port,
            baudrate=baud,
            ignore_missing_devices=True,
            trace_packet=bus.trace,
            reconnect_delay=0,  # a vanished port ends the simulation, as with real hardware
        )
    else:
        bus.server = ModbusTcpServer(
            devices, address=(host, tcp_port), ignore_missing_devices=True, trace_packet=bus.trace
        )
    await bus.server.serve_forever(background=True)
    return bus
