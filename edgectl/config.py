"""The site config: TOML in, typed and cross-checked frozen dataclasses out.

See ``config.example.toml`` for every key with a comment.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edgectl.confload import ConfigError, Invalid, build
from edgectl.facilities.settings import Facilities
from edgectl.patrol.settings import Patrol
from edgectl.roster import Duty
from edgectl.workorders.settings import WorkOrders
from rules.schedule import DAYS, MAX_SEGMENTS, parse_segment

__all__ = ["Config", "ConfigError", "load"]


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str = ""
    timezone: str = "UTC"

    def validate(self) -> None:
        if not self.id or not all(c.isalnum() or c in "-_" for c in self.id):
            raise Invalid("id", f"expected letters, digits, '-' or '_', got {self.id!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(
                "timezone", f"expected an IANA zone such as 'Asia/Shanghai', got {self.timezone!r}"
            ) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class Store:
    path: str = "/var/lib/edgectl/edgectl.db"
    disk_budget_mb: float = 1024.0


@dataclass(frozen=True, slots=True)
class Daemon:
    control_socket: str = "/run/edgectl/control.sock"
    metrics_port: int = 0  # 0 disables the Prometheus endpoint
    metrics_host: str = "127.0.0.1"
    log_level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True, slots=True)
class Bus:
    """An RS-485 serial bus (``rtu``) or a Modbus TCP link (``tcp``)."""

    id: str
    kind: Literal["rtu", "tcp"] = "rtu"
    port: str = ""  # serial device for rtu, e.g. /dev/serial/by-id/usb-FTDI_...
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
        if self.baud not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise Invalid("baud", f"expected a standard baud rate, got {self.baud}")
        if not 0 <= self.retries <= 5:
            raise Invalid("retries", f"expected 0-5 retries, got {self.retries}")
        if self.offline_after < 1:
            raise Invalid("offline_after", f"expected at least 1, got {self.offline_after}")


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

    def validate(self) -> None:
        if not 1 <= self.unit <= 247:
            raise Invalid("unit", f"expected a Modbus unit id 1-247, got {self.unit}")
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


@dataclass(frozen=True, slots=True)
class Contact:
    """A door contact wired to a discrete input of a Modbus I/O module on a bus."""

    bus: str
    unit: int
    input: int
    open_value: bool = True  # the input reads this when the door is open
    poll_interval_s: float = 0.2


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


@dataclass(frozen=True, slots=True)
class Reader:
    """A Wiegand reader behind a serial Wiegand converter (see docs/wiegand-converter.md)."""

    id: str
    port: str
    baud: int = 9600
    door: str = ""
    gate: str = ""
    direction: Literal["in", "out", "none"] = "in"
    formats: tuple[str, ...] = ("h10301", "wiegand34", "c1000", "h10304")

    def validate(self) -> None:
        if bool(self.door) == bool(self.gate):
            raise Invalid("door", "expected exactly one of 'door' or 'gate' for a reader")
        from drivers.wiegand.codec import builtin_formats

        known = builtin_formats()
        for i, name in enumerate(self.formats):
            if name not in known:
                raise Invalid(f"formats[{i}]", f"expected one of {sorted(known)}, got {name!r}")

    @property
    def target(self) -> str:
        return self.door or self.gate


@dataclass(frozen=True, slots=True)
class Tls:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class Mqtt:
    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    base_topic: str = ""  # default: edgectl/<site id>
    client_id: str = ""
    username: str = ""
    password: str = ""
    keepalive_s: int = 30
    protocol: Literal["5", "3.1.1"] = "5"
    tls: Tls | None = None
    command_window_s: float = 30.0
    max_payload_bytes: int = 16384
    ha_discovery: bool = False
    ha_prefix: str = "homeassistant"

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise Invalid("port", f"expected a TCP port 1-65535, got {self.port}")
        if self.command_window_s <= 0:
            raise Invalid("command_window_s", f"expected seconds > 0, got {self.command_window_s}")
        if self.max_payload_bytes < 256:
            raise Invalid(
                "max_payload_bytes", f"expected at least 256 bytes, got {self.max_payload_bytes}"
            )
        base = self.base_topic
        if base and (base.startswith("/") or base.endswith("/") or set(base) & set("+#\0")):
            raise Invalid("base_topic", f"expected a topic without wildcards, got {base!r}")
        if self.tls:
            for key in ("ca_file", "cert_file", "key_file"):
                path = getattr(self.tls, key)
                if path and not Path(path).is_file():
                    raise Invalid(f"tls.{key}", f"no such file {path!r}")


@dataclass(frozen=True, slots=True)
class Operator:
    """An MQTT operator: ``id`` is the broker user name, one level of the command topic."""

    id: str
    role: Literal["viewer", "guard", "operator", "admin"]
    name: str = ""

    def validate(self) -> None:
        if not self.id or len(self.id) > 64 or set(self.id) & set("/+#\0"):
            raise Invalid("id", f"expected a user name without '/', '+' or '#', got {self.id!r}")


@dataclass(frozen=True, slots=True)
class Hub:
    enabled: bool = False
    url: str = ""
    token: str = ""
    tls: Tls | None = None
    interval_s: float = 2.0
    batch_max_events: int = 5000
    batch_max_bytes: int = 1_000_000
    timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    max_response_bytes: int = 16_000_000

    def validate(self) -> None:
        if self.enabled and not self.url.startswith(("http://", "https://")):
            raise Invalid("url", f"expected an http:// or https:// URL, got {self.url!r}")
        for key in ("interval_s", "timeout_s", "backoff_base_s", "backoff_max_s"):
            if getattr(self, key) <= 0:
                raise Invalid(
                    key, f"expected a positive number of seconds, got {getattr(self, key)}"
                )
        for key in ("batch_max_events", "batch_max_bytes", "max_response_bytes"):
            if getattr(self, key) < 1:
                raise Invalid(key, f"expected a positive integer, got {getattr(self, key)}")


ROLES = ("resident", "staff", "guard", "contractor", "visitor")
Antipassback = Literal["off", "soft", "hard"]


@dataclass(frozen=True, slots=True)
class HolidayPlan:
    """The segments a schedule allows on days of one holiday type."""

    type: str
    segments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Schedule:
    """A week plan: up to 8 ``"HH:MM[:SS]-HH:MM[:SS]"`` segments a day, in site local time."""

    id: str
    mon: tuple[str, ...] = ()
    tue: tuple[str, ...] = ()
    wed: tuple[str, ...] = ()
    thu: tuple[str, ...] = ()
    fri: tuple[str, ...] = ()
    sat: tuple[str, ...] = ()
    sun: tuple[str, ...] = ()
    holidays: tuple[HolidayPlan, ...] = ()

    def validate(self) -> None:
        if self.id in ("always", "never"):
            raise Invalid("id", f"{self.id!r} is built in; choose another id")
        for day in DAYS:
            _check_segments(day, getattr(self, day))
        for i, plan in enumerate(self.holidays):
            _check_segments(f"holidays[{i}].segments", plan.segments)


def _check_segments(key: str, segments: tuple[str, ...]) -> None:
    if len(segments) > MAX_SEGMENTS:
        raise Invalid(key, f"at most {MAX_SEGMENTS} segments a day, got {len(segments)}")
    for text in segments:
        try:
            parse_segment(text)
        except ValueError as exc:
            raise Invalid(key, str(exc)) from None


@dataclass(frozen=True, slots=True)
class Holiday:
    date: str  # YYYY-MM-DD, a local calendar day
    type: str

    def validate(self) -> None:
        try:
            date.fromisoformat(self.date)
        except ValueError:
            raise Invalid("date", f"expected YYYY-MM-DD, got {self.date!r}") from None


@dataclass(frozen=True, slots=True)
class Area:
    """Anti-passback by area: readers with direction in/out move people in and out of it."""

    id: str
    antipassback: Antipassback = "off"
    reset_s: float = 0.0  # forget a position after this long; 0 keeps it until forgiven


@dataclass(frozen=True, slots=True)
class AccessPoint:
    """Per door or gate access policy: timed anti-passback and held-open alarm times."""

    target: str
    antipassback: Antipassback = "off"
    antipassback_s: float = 0.0  # the same person may not pass again within this time
    held_prealarm_s: float = 30.0
    held_alarm_s: float = 60.0

    def validate(self) -> None:
        if self.antipassback != "off" and self.antipassback_s <= 0:
            raise Invalid("antipassback_s", "expected a positive time for timed anti-passback")
        if not 0 < self.held_prealarm_s <= self.held_alarm_s:
            raise Invalid("held_alarm_s", "expected 0 < held_prealarm_s <= held_alarm_s")


@dataclass(frozen=True, slots=True)
class Access:
    max_offline_days: float = 7.0
    degraded_policy: Literal["deny_all_but_staff", "facility_code_only", "carry_on"] = "carry_on"
    degraded_facility_codes: tuple[int, ...] = ()
    security_roles: tuple[str, ...] = ("guard",)
    holiday_types: tuple[str, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    areas: tuple[Area, ...] = ()
    points: tuple[AccessPoint, ...] = ()
    visitor_code_digits: int = 8
    pin_timeout_s: float = 10.0  # card+PIN: how long after the card the PIN may follow

    def validate(self) -> None:
        for i, role in enumerate(self.security_roles):
            if role not in ROLES:
                raise Invalid(f"security_roles[{i}]", f"expected one of {ROLES}, got {role!r}")
        types = set(self.holiday_types)
        for i, holiday in enumerate(self.holidays):
            if holiday.type not in types:
                raise Invalid(
                    f"holidays[{i}].type",
                    f"unknown holiday type {holiday.type!r}; declared: {sorted(types)}",
                )
        for i, schedule in enumerate(self.schedules):
            for j, plan in enumerate(schedule.holidays):
                if plan.type not in types:
                    raise Invalid(
                        f"schedules[{i}].holidays[{j}].type",
                        f"schedule {schedule.id!r} references unknown holiday type "
                        f"{plan.type!r}; declared in access.holiday_types: {sorted(types)}",
                    )
        for section in ("schedules", "areas"):
            seen = Counter(item.id for item in getattr(self, section))
            for i, item in enumerate(getattr(self, section)):
                if seen[item.id] > 1:
                    raise Invalid(f"{section}[{i}].id", f"duplicate id {item.id!r}")
        if not 4 <= self.visitor_code_digits <= 12:
            raise Invalid("visitor_code_digits", "expected 4 to 12 digits")


@dataclass(frozen=True, slots=True)
class Config:
    site: Site
    store: Store = field(default_factory=Store)
    daemon: Daemon = field(default_factory=Daemon)
    buses: tuple[Bus, ...] = ()
    gates: tuple[Gate, ...] = ()
    doors: tuple[Door, ...] = ()
    readers: tuple[Reader, ...] = ()
    mqtt: Mqtt = field(default_factory=Mqtt)
    operators: tuple[Operator, ...] = ()
    hub: Hub = field(default_factory=Hub)
    access: Access = field(default_factory=Access)
    workorders: WorkOrders = field(default_factory=WorkOrders)
    patrol: Patrol = field(default_factory=Patrol)
    facilities: Facilities = field(default_factory=Facilities)
    roster: tuple[Duty, ...] = ()

    def validate(self) -> None:
        seen: dict[str, str] = {}
        for section in ("buses", "gates", "doors", "readers"):
            for i, item in enumerate(getattr(self, section)):
                key = f"{section}[{i}].id"
                if item.id in seen:
                    raise Invalid(key, f"duplicate device id {item.id!r} (also {seen[item.id]})")
                seen[item.id] = key
        bus_ids = [b.id for b in self.buses]
        for i, gate in enumerate(self.gates):
            if gate.bus not in bus_ids:
                raise Invalid(f"gates[{i}].bus", f"expected one of {bus_ids}, got {gate.bus!r}")
        for i, door in enumerate(self.doors):
            for name, wire in (("relay", door.relay), ("contact", door.contact)):
                if wire and wire.bus not in bus_ids:
                    raise Invalid(
                        f"doors[{i}].{name}.bus", f"expected one of {bus_ids}, got {wire.bus!r}"
                    )
        gate_ids = [g.id for g in self.gates]
        door_ids = [d.id for d in self.doors]
        for i, reader in enumerate(self.readers):
            if reader.gate and reader.gate not in gate_ids:
                raise Invalid(
                    f"readers[{i}].gate", f"expected one of {gate_ids}, got {reader.gate!r}"
                )
            if reader.door and reader.door not in door_ids:
                raise Invalid(
                    f"readers[{i}].door", f"expected one of {door_ids}, got {reader.door!r}"
                )
        ports = Counter(b.port for b in self.buses if b.kind == "rtu")
        ports.update(r.port for r in self.readers)
        for i, reader in enumerate(self.readers):
            if ports[reader.port] > 1:
                raise Invalid(f"readers[{i}].port", f"serial port {reader.port!r} used twice")
        targets = {*gate_ids, *door_ids}
        for i, point in enumerate(self.access.points):
            if point.target not in targets:
                raise Invalid(
                    f"access.points[{i}].target",
                    f"expected a door or gate id {sorted(targets)}, got {point.target!r}",
                )
        plans = {"always", "never", *(s.id for s in self.access.schedules)}
        for i, route in enumerate(self.patrol.routes):
            if route.schedule not in plans:
                raise Invalid(
                    f"patrol.routes[{i}].schedule",
                    f"expected a schedule id {sorted(plans)}, got {route.schedule!r}",
                )
        ops = Counter(o.id for o in self.operators)
        for i, op in enumerate(self.operators):
            if ops[op.id] > 1:
                raise Invalid(f"operators[{i}].id", f"duplicate operator id {op.id!r}")

    @property
    def base_topic(self) -> str:
        return self.mqtt.base_topic or f"edgectl/{self.site.id}"

    def gate(self, gate_id: str) -> Gate:
        return next(g for g in self.gates if g.id == gate_id)

    def bus(self, bus_id: str) -> Bus:
        return next(b for b in self.buses if b.id == bus_id)


def parse(text: str, file: Path | str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"not valid TOML: {exc}") from None
    return build(Config, data, Path(file))


def load(path: Path | str) -> Config:
    """Read and validate the config file at ``path``; raise ConfigError naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    return parse(text, path)
