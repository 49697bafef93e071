"""Settings of the Modbus bus driver: buses, gates and door I/O wiring (``[[buses]]``,
``[[gates]]``, ``[[doors]]`` in the site config).

Imports no driver library: loading a config must not import pymodbus or pyserial (see
docs/decisions.md, "Settings are owned where they are used").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from edgectl.confload import ConfigError, Invalid

__all__ = ["Bus", "Contact", "Door", "Gate", "Relay", "check_wiring"]

MAX_ADDRESS = 65535  # coils, discrete inputs and registers are 16-bit protocol addresses


def _check_unit(unit: int) -> None:
    if not 1 <= unit <= 247:
        raise Invalid("unit", f"expected a Modbus unit id 1-247 (0 is broadcast), got {unit}")


def _check_address(key: str, address: int) -> None:
    if not 0 <= address <= MAX_ADDRESS:
        raise Invalid(key, f"expected a Modbus address 0-{MAX_ADDRESS}, got {address}")


@dataclass(frozen=True, slots=True)
class Bus:
    """An RS-485 serial bus (``rtu``) or a Modbus TCP link (``tcp``)."""

    id: str
    kind: Literal["rtu", "tcp"] = "rtu"
    port: str = field(  # serial device for rtu, e.g. /dev/serial/by-id/usb-FTDI_...
        default="", metadata={"hint": "for a tcp bus the TCP port is tcp_port"}
    )
    host: str = ""  # for tcp
    tcp_port: int = 502
    baud: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
    bytesize: int = 8
    turnaround_ms: float = 5.0
    retries: int = 1
    latency_ms: float = 25.0  # host/USB-adapter/gateway allowance added to reply timeouts
    offline_after: int = 3  # failed transactions before a unit is reported offline

    def validate(self) -> None:
        if self.kind == "rtu" and not self.port:
            raise Invalid("port", "expected the serial device path for an rtu bus")
        if self.kind == "tcp" and not self.host:
            raise Invalid("host", "expected a host name or address for a tcp bus")
        if self.kind == "tcp" and self.port:
            raise Invalid(
                "port", "a tcp bus takes its TCP port in tcp_port (port is an rtu bus's device)"
            )
        if self.baud not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise Invalid("baud", f"expected a standard baud rate, got {self.baud}")
        if not 0 <= self.retries <= 5:
            raise Invalid("retries", f"expected 0-5 retries, got {self.retries}")
        if self.offline_after < 1:
            raise Invalid("offline_after", f"expected at least 1, got {self.offline_after}")
        if not 0 < self.tcp_port < 65536:
            raise Invalid("tcp_port", f"expected a TCP port 1-65535, got {self.tcp_port}")


@dataclass(frozen=True, slots=True)
class Gate:
    id: str
    bus: str
    unit: int = 1
    profile: str = "generic"
    area: str = "site"
    name: str = ""
    poll_interval_s: float = 1.0
    auto_close_s: float = 0.0  # 0 leaves closing to the gate itself
    open_pulse_s: float = 5.0
    camera: str = ""  # a camera id ([cameras]): evidence frames on access decisions here

    def validate(self) -> None:
        _check_unit(self.unit)
        if self.poll_interval_s < 0 or self.auto_close_s < 0:
            raise Invalid("poll_interval_s", "expected intervals of 0 seconds or more")
        from drivers.modbus import profile  # profiles are data files beside the driver

        try:
            profile.load(self.profile)
        except ConfigError as exc:
            raise Invalid(
                "profile", f"{exc.file}: {exc.key + ': ' if exc.key else ''}{exc.problem}"
            ) from None


@dataclass(frozen=True, slots=True)
class Relay:
    bus: str
    unit: int
    coil: int

    def validate(self) -> None:
        _check_unit(self.unit)
        _check_address("coil", self.coil)


@dataclass(frozen=True, slots=True)
class Contact:
    """A door contact wired to a discrete input of a Modbus I/O module on a bus."""

    bus: str
    unit: int
    input: int
    open_value: bool = True  # the input reads this when the door is open
    poll_interval_s: float = 0.2

    def validate(self) -> None:
        _check_unit(self.unit)
        _check_address("input", self.input)


@dataclass(frozen=True, slots=True)
class Door:
    id: str
    area: str = "site"
    name: str = ""
    unlock_s: float = 5.0
    fail_mode: Literal["safe", "secure"] = "secure"
    egress: bool = False
    relay: Relay | None = None
    contact: Contact | None = None
    camera: str = ""  # a camera id ([cameras]): evidence frames on decisions and alarms here


def check_wiring(gates: Sequence[Gate], doors: Sequence[Door]) -> None:
    """Cross-check Modbus addresses across devices; keys are relative to the site config.

    A unit on a bus is one device: either one gate, or one I/O module that any number of
    doors share (door A's relay and door B's contact on the same module are fine). So two
    gates on one unit, or a gate and a door's I/O on one unit, are refused, and so are two
    doors driving the same coil or reading the same input.
    """
    owner: dict[tuple[str, int], str] = {}
    for i, gate in enumerate(gates):
        key = f"gates[{i}].unit"
        if (gate.bus, gate.unit) in owner:
            raise Invalid(
                key,
                f"unit {gate.unit} on bus {gate.bus!r} is already {owner[gate.bus, gate.unit]}",
            )
        owner[gate.bus, gate.unit] = f"gate {gate.id!r}"
    points: dict[tuple[str, str, int, int], str] = {}
    for i, door in enumerate(doors):
        for name, wire, point, address in (
            ("relay", door.relay, "coil", door.relay.coil if door.relay else 0),
            ("contact", door.contact, "input", door.contact.input if door.contact else 0),
        ):
            if wire is None:
                continue
            prefix = f"doors[{i}].{name}"
            other = owner.setdefault((wire.bus, wire.unit), "an I/O module")
            if other != "an I/O module":
                raise Invalid(
                    f"{prefix}.unit", f"unit {wire.unit} on bus {wire.bus!r} is already {other}"
                )
            spot = (wire.bus, point, wire.unit, address)
            if spot in points:
                raise Invalid(
                    f"{prefix}.{point}",
                    f"{point} {address} of unit {wire.unit} on bus {wire.bus!r} is already "
                    f"wired to {points[spot]}",
                )
            points[spot] = f"door {door.id!r}"
