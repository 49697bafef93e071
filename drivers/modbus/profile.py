"""Gate profiles: one TOML file per gate model, describing its register map as data.

A profile names the command coils or registers (open, close, stop, partial), the state
register and its value-to-state map, where position, flags, last fault and counters live,
which flag bits are the vehicle loop, the obstacle sensor and the fault indicator, the
serial defaults, and how long an open may take to show. See docs/gate-profiles.md.

Addresses are Modbus protocol addresses (0-based): holding register 40101 in a vendor
manual is address 100, coil 1 is address 0.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from edgectl.confload import ConfigError, Invalid, build

PROFILE_DIR = Path(__file__).with_name("profiles")
STATES = frozenset(
    {"open", "closed", "opening", "closing", "partly_open", "stopped", "fault", "unknown"}
)
COMMANDS = ("open", "close", "stop", "partial")
MAX_READ = 125  # registers one read may ask for
MAX_GAP = 8  # registers worth reading through rather than paying for a second request


@dataclass(frozen=True, slots=True)
class Action:
    """A command: write ``coil`` on (momentary), or write ``value`` to holding ``register``."""

    coil: int | None = None
    register: int | None = None
    value: int = 1

    def validate(self) -> None:
        if (self.coil is None) == (self.register is None):
            raise Invalid("coil", "expected exactly one of 'coil' or 'register'")
        for key in ("coil", "register", "value"):
            v = getattr(self, key)
            if v is not None and not 0 <= v <= 0xFFFF:
                raise Invalid(key, f"expected 0-65535, got {v}")


@dataclass(frozen=True, slots=True)
class Commands:
    open: Action
    close: Action
    stop: Action
    partial: Action | None = None


@dataclass(frozen=True, slots=True)
class Bits:
    """Bit numbers (0 = least significant) in the flags register."""

    vehicle_loop: int | None = None
    obstacle: int | None = None
    fault: int | None = None

    def validate(self) -> None:
        for key in ("vehicle_loop", "obstacle", "fault"):
            v = getattr(self, key)
            if v is not None and not 0 <= v <= 15:
                raise Invalid(key, f"expected a bit number 0-15, got {v}")


@dataclass(frozen=True, slots=True)
class Registers:
    """Holding register addresses (0-based)."""

    state: int
    position: int | None = None
    flags: int | None = None
    fault: int | None = None
    counters: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Serial:
    baud: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1


@dataclass(frozen=True, slots=True)
class Timing:
    open_verify_s: float = 3.0  # state must read opening/open this long after an open
    travel_s: float = 6.0  # full stroke time (used by the simulator and docs)
    partial_percent: int = 30  # where a partial open stops (simulator)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    model: str
    registers: Registers
    commands: Commands
    states: dict[str, str]  # register value (as TOML key) -> state name
    counter_names: tuple[str, ...] = ()
    bits: Bits = field(default_factory=Bits)
    faults: dict[str, str] = field(default_factory=dict)  # fault code -> text
    serial: Serial = field(default_factory=Serial)
    timing: Timing = field(default_factory=Timing)

    def validate(self) -> None:
        for raw, state in self.states.items():
            if not raw.isdigit():
                raise Invalid(f"states.{raw}", "expected a register value as the key")
            if not isinstance(state, str) or state not in STATES:
                raise Invalid(f"states.{raw}", f"expected one of {sorted(STATES)}, got {state!r}")
        for raw, text in self.faults.items():
            if not raw.isdigit() or not isinstance(text, str):
                raise Invalid(f"faults.{raw}", 'expected code = "text" with a numeric code')
        if len(self.counter_names) != len(self.registers.counters):
            raise Invalid("counter_names", "expected one name per counter register")
        if self.bits != Bits() and self.registers.flags is None:
            raise Invalid("bits", "flag bits need registers.flags")
        if max(self.poll_addresses) - min(self.poll_addresses) >= 4 * MAX_READ:
            raise Invalid("registers", "registers spread too far apart")

    def state_of(self, value: int) -> str:
        return self.states.get(str(value), "unknown")

    def state_value(self, state: str) -> int:
        """The register value a device reports for ``state`` (first match)."""
        return next((int(k) for k, v in self.states.items() if v == state), 0)

    def fault_text(self, code: int) -> str:
        return self.faults.get(str(code), f"fault {code}")

    @property
    def poll_addresses(self) -> tuple[int, ...]:
        r = self.registers
        extra = (r.position, r.flags, r.fault)
        return tuple(sorted({r.state, *(a for a in extra if a is not None), *r.counters}))


def read_ranges(addresses: tuple[int, ...], max_gap: int = MAX_GAP) -> list[tuple[int, int]]:
    """Combine sorted register addresses into (start, count) reads, one per near-contiguous run."""
    ranges: list[tuple[int, int]] = []
    for addr in sorted(set(addresses)):
        if ranges:
            start, count = ranges[-1]
            if addr - (start + count) <= max_gap and addr - start < MAX_READ:
                ranges[-1] = (start, addr - start + 1)
                continue
        ranges.append((addr, 1))
    return ranges


def parse(text: str, source: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None
    return build(Profile, data, Path(source))


@cache
def load(name: str) -> Profile:
    """The profile ``name`` from the shipped profiles, or from a path to a .toml file."""
    path = Path(name) if name.endswith(".toml") else PROFILE_DIR / f"{name}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(path, "", f"no gate profile {name!r}; shipped: {names()}") from None
    return parse(text, str(path))


def names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
