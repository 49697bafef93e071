"""Each configured gate answers on its unit: asked through the daemon when one runs (it owns
the bus), else read on the bus directly. A silent gate gets a scan of the bus, so the
installer learns which unit did answer."""

from __future__ import annotations

from drivers.base import DeviceError
from edgectl.config import Config, Gate
from edgectl.control_client import request
from edgectl.doctor import Check


async def _through_daemon(cfg: Config, gate: Gate) -> Check:
    try:
        status, body = await request(cfg.daemon.control_socket, "GET", f"/v1/devices/{gate.id}")
    except OSError as exc:
        return Check(f"gate {gate.id}", False, f"the daemon did not answer: {exc}")
    online = status == 200 and bool(body.get("online"))
    detail = f"unit {gate.unit} via the daemon: " + ("online" if online else f"offline {body}")
    fix = "" if online else f"edgectl gate status {gate.id}; check wiring and the gate's unit id"
    return Check(f"gate {gate.id}", online, detail, fix)


async def _on_the_bus(cfg: Config, gate: Gate) -> Check:
    from drivers.modbus.direct import read_snapshot, scan

    bus = cfg.bus(gate.bus)
    name = f"gate {gate.id}"
    try:
        snap = await read_snapshot(bus, gate)
        return Check(name, True, f"unit {gate.unit} answered: {snap.state}")
    except DeviceError as exc:
        problem = str(exc)
    if bus.kind != "rtu":
        return Check(name, False, f"unit {gate.unit}: {problem}", "check the gateway address")
    try:
        hits = await scan(bus, range(1, 248))
    except DeviceError as exc:
        return Check(name, False, f"unit {gate.unit}: {problem}; scan failed: {exc}")
    fitting = [h for h in hits if gate.profile in h.fits]
    if fitting:
        units = ", ".join(str(h.unit) for h in fitting)
        return Check(
            name,
            False,
            f"unit {gate.unit} did not answer; unit {units} answered with a {gate.profile} gate",
            f"set unit = {fitting[0].unit} for gate {gate.id} in the config",
        )
    others = ", ".join(f"{h.unit} ({'/'.join(h.fits) or 'no profile fits'})" for h in hits)
    return Check(
        name,
        False,
        f"unit {gate.unit} did not answer ({problem})"
        + (f"; units that did: {others}" if hits else "; no unit answered on the bus"),
        f"edgectl scan modbus --port {bus.port} --baud {bus.baud}",
    )


async def gates(cfg: Config, daemon_running: bool) -> list[Check]:
    checks = []
    for gate in cfg.gates:
        if daemon_running:
            checks.append(await _through_daemon(cfg, gate))
        else:
            checks.append(await _on_the_bus(cfg, gate))
    return checks
