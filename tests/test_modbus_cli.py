"""``edgectl scan modbus`` and ``edgectl gate status`` against simulated gates on a pty."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from drivers.sim.gate import start_sim_gates
from tests.cli_helpers import REPO
from tests.conftest import PtyPair


async def edgectl(*args: str) -> tuple[int, str, str]:
    """Run the real CLI in a subprocess without blocking the simulator's event loop."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edgectl",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_scan_finds_units_and_fitting_profiles(pty_pair: PtyPair) -> None:
    sim = await start_sim_gates(pty_pair.device, {3: "came_zlb30", 6: "generic"}, baud=19200)
    try:
        code, out, err = await edgectl(
            "scan", "modbus", "--port", pty_pair.host, "--baud", "19200", "--units", "1-8"
        )
    finally:
        await sim.stop()
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 3}
    assert set(rows) - {"unit"} == {"3", "6"}
    assert "came_zlb30" in rows["3"] and "closed" in rows["3"]
    assert "generic" in rows["6"] and "came_zlb30" not in rows["6"]
    assert "2 of 8 units answered" in out


async def test_scan_of_missing_port_fails_naming_it(tmp_path: Path) -> None:
    code, _, err = await edgectl("scan", "modbus", "--port", str(tmp_path / "ttyUSB9"))
    assert code == 1
    assert "ttyUSB9" in err and "cannot open" in err


async def test_scan_rejects_bad_unit_range(pty_pair: PtyPair) -> None:
    code, _, err = await edgectl("scan", "modbus", "--port", pty_pair.host, "--units", "0-300")
    assert code == 2
    assert "1-247" in err


async def test_gate_status_reads_the_gate_directly(pty_pair: PtyPair, tmp_path: Path) -> None:
    config = tmp_path / "edgectl.toml"
    config.write_text(
        f'[site]\nid = "t"\n[daemon]\ncontrol_socket = "{tmp_path}/ctl.sock"\n'
        f'[[buses]]\nid = "b"\nport = "{pty_pair.host}"\n'
        '[[gates]]\nid = "g1"\nbus = "b"\nunit = 3\nprofile = "came_zlb30"\n'
    )
    sim = await start_sim_gates(pty_pair.device, {3: "came_zlb30"})
    model = sim.gates[3].model
    model.fault_code, model.counters = 2, [41, 2, 0, 1]
    try:
        code, out, err = await edgectl("gate", "status", "g1", "-c", str(config), "--json")
        missing = await edgectl("gate", "status", "nope", "-c", str(config))
    finally:
        await sim.stop()
    assert code == 0, err
    status = json.loads(out)
    assert status["state"] == "fault" and status["fault_text"] == "encoder error"
    assert status["counters"]["total_cycles"] == 41
    assert status["via"] == "bus"
    assert missing[0] == 2 and "unknown gate 'nope'" in missing[2]
