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
from drivers.sim.io_module import SimIoModule
from drivers.sim.ptys import PtyPair, make_pty_pair
from drivers.sim.wiegand_converter import SimWiegandConverter
from edgectl import tomlw
from edgectl.config import Config, load

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
EXAMPLE_DIR = "/tmp/edgectl-sim"


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base`` (tables merge, everything else replaces)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(directory: Path, overrides: dict[str, Any] | None = None) -> Path:
    """The shipped example config, pointed at ``directory``, with ``overrides`` merged in."""
    data = tomllib.loads(EXAMPLE.read_text().replace(EXAMPLE_DIR, str(directory)))
    path = directory / "config.toml"
    path.write_text(tomlw.dumps(merge(data, overrides or {})))
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


def with_cameras(
    directory: Path, overrides: dict[str, Any] | None, ports: list[int]
) -> dict[str, Any]:
    """``overrides`` plus the simulated cameras: the first (a dome) watches the gate, and
    its preset 2 is bound to the lobby door, so a forced door turns it."""
    overrides = overrides or {}
    example = tomllib.loads(EXAMPLE.read_text())
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


@contextlib.asynccontextmanager
async def simulated_compound(
    directory: Path, overrides: dict[str, Any] | None = None, cameras: int = 0
) -> AsyncIterator[Compound]:
    """Start a simulated gate and reader on pty links (and ``cameras`` simulated ONVIF
    cameras on loopback) and write a config that points at them."""
    directory.mkdir(parents=True, exist_ok=True)
    sims = [SimCamera(skew_s=90.0 * i) for i in range(cameras)]
    for sim in sims:
        await sim.start()
    if sims:
        overrides = with_cameras(directory, overrides, [s.port for s in sims])
    bus = make_pty_pair(directory, "bus")
    reader_link = make_pty_pair(directory, "reader")
    # The example config names the host ends bus-host and reader-host in its directory.
    try:
        config_path = write_config(directory, overrides)
        config = load(config_path)
        bus_cfg = config.buses[0]
        units = {g.unit: g.profile for g in config.gates if g.bus == bus_cfg.id}
        wires = [w for d in config.doors for w in (d.relay, d.contact) if w and w.bus == bus_cfg.id]
        io = {unit: SimIoModule(unit) for unit in sorted({w.unit for w in wires})}
        gates = await start_sim_gates(bus.device, units, baud=bus_cfg.baud, io_modules=io)
        reader = SimWiegandConverter(reader_link.device)
        try:
            yield Compound(directory, config_path, config, bus, reader_link, gates, reader, sims)
        finally:
            reader.close()
            await gates.stop()
    finally:
        bus.close()
        reader_link.close()
        for sim in sims:
            await sim.stop()
