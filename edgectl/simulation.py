"""A simulated compound: real-protocol devices on pty links, a seeded store, and a config.

Used by ``edgectl sim``, the end-to-end tests and the access-path benchmark, so all three
exercise the same wiring as a real site.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.sim.camera import SIM_PASSWORD, SIM_USER, SimCamera
from drivers.sim.gate import SimGates, start_sim_gates
from drivers.sim.intercom_2n import Sim2N
from drivers.sim.intercom_base import SimIntercom
from drivers.sim.intercom_dahua import SimDahua
from drivers.sim.intercom_hikvision import SimHikvision
from drivers.sim.io_module import SimIoModule
from drivers.sim.ptys import PtyPair, make_pty_pair
from drivers.sim.wiegand_converter import SimWiegandConverter
from edgectl import data as shipped
from edgectl import tomlw
from edgectl.config import Config, load

EXAMPLE_DIR = "/tmp/edgectl-sim"
EXAMPLE_INTERCOM_PORT = 18081  # the example config's intercom URL
SIM_INTERCOMS: dict[str, type[SimIntercom]] = {
    "2n": Sim2N,
    "hikvision": SimHikvision,
    "dahua": SimDahua,
}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base`` (tables merge, everything else replaces)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def config_data(directory: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shipped example config, pointed at ``directory``, with ``overrides`` merged in.

    An override that replaces the doors or gates drops the intercoms guarding ones it left out.
    """
    text = shipped.text("config.example.toml").replace(EXAMPLE_DIR, str(directory))
    data = merge(tomllib.loads(text), overrides or {})
    targets = {t["id"] for section in ("doors", "gates") for t in data.get(section, [])}
    data["intercoms"] = [
        ic for ic in data.get("intercoms", []) if (ic.get("door") or ic.get("gate")) in targets
    ]
    return data


def write_config(directory: Path, overrides: dict[str, Any] | None = None) -> Path:
    path = directory / "config.toml"
    path.write_text(tomlw.dumps(config_data(directory, overrides)))
    return path


@dataclass
class Compound:
    directory: Path
    config_path: Path
    config: Config
    bus: PtyPair
    reader_link: PtyPair
    gates: SimGates
    reader: SimWiegandConverter
    cameras: list[SimCamera]
    intercoms: dict[str, SimIntercom]

    @property
    def intercom(self) -> SimIntercom:
        """The pedestrian door's intercom of the example config."""
        return self.intercoms["ped-intercom"]


def with_cameras(
    directory: Path, overrides: dict[str, Any] | None, ports: list[int]
) -> dict[str, Any]:
    """``overrides`` plus the simulated cameras: the first (a dome) watches the gate, and
    its preset 2 is bound to the lobby door, so a forced door turns it."""
    overrides = overrides or {}
    example = tomllib.loads(shipped.text("config.example.toml"))
    gates = [dict(g) for g in overrides.get("gates", example["gates"])]
    gates[0]["camera"] = "gate-cam"
    devices: list[dict[str, Any]] = [
        {
            "id": "gate-cam" if i == 0 else f"cam-{i + 1}",
            "host": "127.0.0.1",
            "port": port,
            "username": SIM_USER,
            "password": SIM_PASSWORD,
            "name": "Main gate dome" if i == 0 else f"Simulated camera {i + 1}",
        }
        for i, port in enumerate(ports)
    ]
    door = example["doors"][0]["id"]
    devices[0]["presets"] = [{"target": door, "preset": "2", "alarms": ["forced_open"]}]
    section = {"store_path": str(directory / "evidence"), "devices": devices}
    return merge(overrides, {"gates": gates, "cameras": section})


async def start_sim_intercoms(
    data: dict[str, Any], port: int, stack: contextlib.AsyncExitStack
) -> dict[str, SimIntercom]:
    """A simulated intercom for each of the config's, on ``port`` (0: a free one); their
    URLs in ``data`` are pointed at them."""
    sims: dict[str, SimIntercom] = {}
    for ic in data.get("intercoms", []):
        sim = SIM_INTERCOMS[ic["vendor"]](username=ic["username"], password=ic["password"])
        ic["url"] = await sim.start(port=port)
        stack.push_async_callback(sim.stop)
        sims[ic["id"]] = sim
        port = 0  # a second intercom takes a free port
    return sims


@contextlib.asynccontextmanager
async def simulated_compound(
    directory: Path,
    overrides: dict[str, Any] | None = None,
    cameras: int = 0,
    *,
    intercom_port: int = 0,
) -> AsyncIterator[Compound]:
    """Start a simulated gate and reader on pty links, ``cameras`` simulated ONVIF cameras
    and the config's intercoms on loopback HTTP (``intercom_port``, 0: a free port), and
    write a config that points at them."""
    directory.mkdir(parents=True, exist_ok=True)
    sims = [SimCamera(skew_s=90.0 * i) for i in range(cameras)]
    for sim in sims:
        await sim.start()
    if sims:
        overrides = with_cameras(directory, overrides, [s.port for s in sims])
    bus = make_pty_pair(directory, "bus")
    reader_link = make_pty_pair(directory, "reader")
    stack = contextlib.AsyncExitStack()
    # The example config names the host ends bus-host and reader-host in its directory.
    try:
        data = config_data(directory, overrides)
        intercoms = await start_sim_intercoms(data, intercom_port, stack)
        config_path = directory / "config.toml"
        config_path.write_text(tomlw.dumps(data))
        config = load(config_path)
        bus_cfg = config.buses[0]
        units = {g.unit: g.profile for g in config.gates if g.bus == bus_cfg.id}
        wires = [w for d in config.doors for w in (d.relay, d.contact) if w and w.bus == bus_cfg.id]
        io = {unit: SimIoModule(unit) for unit in sorted({w.unit for w in wires})}
        gates = await start_sim_gates(bus.device, units, baud=bus_cfg.baud, io_modules=io)
        reader = SimWiegandConverter(reader_link.device)
        try:
            yield Compound(
                directory, config_path, config, bus, reader_link, gates, reader, sims, intercoms
            )
        finally:
            reader.close()
            await gates.stop()
    finally:
        await stack.aclose()
        bus.close()
        reader_link.close()
        for sim in sims:
            await sim.stop()
