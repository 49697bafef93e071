"""``edgectl init`` on the simulated compound's ports: it scans the bus, finds the gate and
its profile, writes a private, valid config and runs the doctor on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgectl.cli import init as init_cli
from edgectl.config import load
from edgectl.simulation import simulated_compound
from tests.cli_helpers import edgectl, edgectl_async


async def init(*args: str, stdin: str | None = None) -> tuple[int, str]:
    return await edgectl_async("init", *args, stdin=stdin)


async def test_non_interactive_init_finds_the_gate_and_writes_a_private_config(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site.toml"
    async with simulated_compound(tmp_path) as compound:
        code, out = await init(
            "--non-interactive",
            "--config", str(site),
            "--site-id", "riverside",
            "--timezone", "Asia/Shanghai",
            "--store", str(tmp_path / "site.db"),
            "--control-socket", str(tmp_path / "site.sock"),
            "--bus-port", compound.bus.host,
            "--reader-port", compound.reader_link.host,
            "--units", "1-4",
            "--hub-url", "http://127.0.0.1:9",
            "--hub-token", "t0ken",
            "--broker", "127.0.0.1:1884",
            "--broker-user", "riverside-edge",
            "--broker-password", "s3cret",
        )  # fmt: skip
    assert code == 0, out
    assert "unit 1: came_zlb30" in out
    assert site.stat().st_mode & 0o777 == 0o600
    cfg = load(site)
    assert cfg.site.id == "riverside" and cfg.site.timezone == "Asia/Shanghai"
    assert [(g.id, g.unit, g.profile) for g in cfg.gates] == [("gate-1", 1, "came_zlb30")]
    assert cfg.readers[0].port == compound.reader_link.host
    assert cfg.readers[0].gate == "gate-1"
    assert cfg.hub.enabled and cfg.hub.token == "t0ken"
    assert cfg.mqtt.enabled and (cfg.mqtt.host, cfg.mqtt.port) == ("127.0.0.1", 1884)
    assert (cfg.mqtt.username, cfg.mqtt.password) == ("riverside-edge", "s3cret")
    written = site.read_text()  # commented for the installer who opens it next
    assert "# Modbus unit id the scan found" in written and "config.example.toml" in written
    # ... and the doctor ran on it: the gate answered on its unit, the hub did not.
    assert "unit 1 answered: closed" in out
    assert "http://127.0.0.1:9 unreachable" in out


async def test_interactive_init_asks_and_writes(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    answers = "\n".join(["compound-7", "Europe/Berlin", "", "", ""]) + "\n"
    code, out = await init("--config", str(site), "--store", str(tmp_path / "db"), stdin=answers)
    assert code == 0, out
    assert "site id" in out and "time zone" in out
    cfg = load(site)
    assert cfg.site.id == "compound-7" and cfg.site.timezone == "Europe/Berlin"
    assert cfg.buses == () and not cfg.hub.enabled


def test_init_refuses_a_bad_zone_and_an_existing_config(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    args = ["init", "--non-interactive", "--config", str(site), "--site-id", "s1"]
    bad = edgectl(*args, "--timezone", "Mars/Olympus")
    assert bad.returncode == 2
    assert "unknown time zone 'Mars/Olympus'" in bad.stderr
    assert not site.exists()
    site.write_text("keep me")
    again = edgectl(*args, "--timezone", "UTC")
    assert again.returncode == 1
    assert "exists" in again.stderr and "--force" in again.stderr
    assert site.read_text() == "keep me"


def test_ports_are_offered_by_their_stable_by_id_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replugged adapter keeps its /dev/serial/by-id name; ttyUSB0 may become ttyUSB1."""
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    devices = tmp_path / "dev"
    devices.mkdir()
    for name, dev in (("usb-FTDI_RS485_A1-if00-port0", "ttyUSB1"), ("usb-Wiegand_B2", "ttyACM0")):
        (devices / dev).touch()
        (by_id / name).symlink_to(devices / dev)
    monkeypatch.setattr(init_cli, "BY_ID", str(by_id))
    assert init_cli.serial_ports()[:2] == [
        (str(by_id / "usb-FTDI_RS485_A1-if00-port0"), str(devices / "ttyUSB1")),
        (str(by_id / "usb-Wiegand_B2"), str(devices / "ttyACM0")),
    ]
