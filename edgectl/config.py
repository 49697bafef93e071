"""The site config: TOML in, typed and cross-checked frozen dataclasses out.

See ``config.example.toml`` for every key with a comment.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.intercom.settings import Intercom
from drivers.modbus.settings import Bus, Contact, Door, Gate, Relay, check_wiring
from drivers.onvif.settings import Cameras
from drivers.wiegand.settings import Reader, check_card_format
from edgectl.commands.settings import CommandSettings
from edgectl.config_paths import check_paths
from edgectl.confload import ConfigError, Invalid, build, decode, parse_toml
from edgectl.facilities.settings import Facilities
from edgectl.patrol.settings import Patrol
from edgectl.roster import Duty
from edgectl.workorders.settings import WorkOrders
from rules.settings import (
    ROLES,
    Access,
    AccessPoint,
    Antipassback,
    Area,
    Holiday,
    HolidayPlan,
    Schedule,
)

# The section types are defined by the code that uses them (drivers/*/settings.py,
# rules/settings.py) and composed here; they stay importable from here for callers.
__all__ = [
    "ROLES",
    "Access",
    "AccessPoint",
    "Antipassback",
    "Area",
    "Bus",
    "Cameras",
    "Config",
    "ConfigError",
    "Contact",
    "Door",
    "Gate",
    "Holiday",
    "HolidayPlan",
    "Intercom",
    "Invalid",
    "Reader",
    "Relay",
    "Schedule",
    "load",
    "parse",
]


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

    def validate(self) -> None:
        if not 0 <= self.metrics_port <= 65535:
            raise Invalid(
                "metrics_port", f"expected a TCP port 1-65535 (0: none), got {self.metrics_port}"
            )


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


# One safe topic level (MQTT operators), or a local user on the control socket.
OPERATOR_ID = re.compile(r"(local:)?[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True, slots=True)
class Operator:
    """An MQTT operator: ``id`` is the broker user name, one level of the command topic."""

    id: str
    role: Literal["viewer", "guard", "operator", "admin"]
    name: str = ""

    def validate(self) -> None:
        if not OPERATOR_ID.fullmatch(self.id):
            raise Invalid(
                "id",
                "expected one topic level without '/', '+' or '#': 1-64 of A-Z a-z 0-9 . _ -"
                f" (or local:<user name>), got {self.id!r}",
            )


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
        try:
            _ = urlsplit(self.url).port  # raises for a port outside 0-65535
        except ValueError:
            raise Invalid(
                "url", f"expected a TCP port 1-65535 in the URL, got {self.url!r}"
            ) from None
        client_cert = self.tls is not None and bool(self.tls.cert_file)
        if self.enabled and not self.token.strip() and not client_cert:
            raise Invalid(
                "token",
                "expected the site's token from the hub (or a client certificate in hub.tls) "
                "when the hub is enabled",
            )
        for key in ("interval_s", "timeout_s", "backoff_base_s", "backoff_max_s"):
            if getattr(self, key) <= 0:
                raise Invalid(
                    key, f"expected a positive number of seconds, got {getattr(self, key)}"
                )
        for key in ("batch_max_events", "batch_max_bytes", "max_response_bytes"):
            if getattr(self, key) < 1:
                raise Invalid(key, f"expected a positive integer, got {getattr(self, key)}")


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
    commands: CommandSettings = field(default_factory=CommandSettings)
    hub: Hub = field(default_factory=Hub)
    access: Access = field(default_factory=Access)
    workorders: WorkOrders = field(default_factory=WorkOrders)
    patrol: Patrol = field(default_factory=Patrol)
    facilities: Facilities = field(default_factory=Facilities)
    roster: tuple[Duty, ...] = ()
    cameras: Cameras = field(default_factory=Cameras)

    intercoms: tuple[Intercom, ...] = ()

    def validate(self) -> None:
        seen: dict[str, str] = {}
        for section in ("buses", "gates", "doors", "readers", "intercoms"):
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
        check_wiring(self.gates, self.doors)
        _check_ports(
            [(f"buses[{i}].port", b.port) for i, b in enumerate(self.buses) if b.kind == "rtu"]
            + [(f"readers[{i}].port", r.port) for i, r in enumerate(self.readers)]
        )
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
        self.cameras.check_refs(
            seen,
            {"gates": self.gates, "doors": self.doors, "intercoms": self.intercoms},
            targets,
            self.access.schedules,
        )

        self._validate_intercoms(gate_ids, door_ids)
        ops = Counter(o.id for o in self.operators)
        for i, op in enumerate(self.operators):
            if ops[op.id] > 1:
                raise Invalid(f"operators[{i}].id", f"duplicate operator id {op.id!r}")
        for i, group in enumerate(self.access.format_aliases):
            for j, name in enumerate(group):
                check_card_format(f"access.format_aliases[{i}][{j}]", name)
        check_paths(self)

    def _validate_intercoms(self, gate_ids: list[str], door_ids: list[str]) -> None:
        doors = {d.id: d for d in self.doors}
        driven: dict[str, str] = {}
        for i, ic in enumerate(self.intercoms):
            if ic.gate and ic.gate not in gate_ids:
                raise Invalid(
                    f"intercoms[{i}].gate", f"expected one of {gate_ids}, got {ic.gate!r}"
                )
            if ic.door and ic.door not in door_ids:
                raise Invalid(
                    f"intercoms[{i}].door", f"expected one of {door_ids}, got {ic.door!r}"
                )
            if ic.drives_door:
                if doors[ic.door].relay is not None:
                    raise Invalid(
                        f"intercoms[{i}].relay",
                        f"door {ic.door!r} already has a strike relay on a bus; set relay = 0",
                    )
                if ic.door in driven:
                    raise Invalid(
                        f"intercoms[{i}].door", f"door {ic.door!r} is driven by {driven[ic.door]}"
                    )
                driven[ic.door] = ic.id

    @property
    def base_topic(self) -> str:
        return self.mqtt.base_topic or f"edgectl/{self.site.id}"

    def gate(self, gate_id: str) -> Gate:
        return next(g for g in self.gates if g.id == gate_id)

    def bus(self, bus_id: str) -> Bus:
        return next(b for b in self.buses if b.id == bus_id)


def _device(path: str) -> tuple[str, int | str]:
    """What a serial port path names: the character device (its st_rdev) if it exists,
    else the path with symlinks resolved (so /dev/serial/by-id/... and /dev/ttyUSB0 match)."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    if stat.S_ISCHR(st.st_mode):
        return ("rdev", st.st_rdev)
    return ("path", os.path.realpath(path))


def _check_ports(ports: list[tuple[str, str]]) -> None:
    """One owner per serial port: no two buses or readers on one device, however named."""
    seen: dict[tuple[str, int | str], tuple[str, str]] = {}
    for key, path in ports:
        device = _device(path)
        if device in seen:
            other_key, other_path = seen[device]
            same = "" if other_path == path else f" ({path!r} and {other_path!r} are one device)"
            raise Invalid(key, f"serial port {path!r} used twice: also {other_key}{same}")
        seen[device] = (key, path)


def parse(text: str, file: Path | str = "<config>") -> Config:
    return build(Config, parse_toml(text, file), Path(file))


def load(path: Path | str) -> Config:
    """Read and validate the config file at ``path``; raise ConfigError naming the problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    return parse(decode(data, path), path)
