"""Device addresses are checked when the config is loaded: a typo in a unit, a coil or a
port is a clear error (exit 2, naming the key), never a bus that dies at run time."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgectl import config
from tests.cli_helpers import edgectl

SITE = """
[site]
id = "s1"

[[buses]]
id = "bus1"
port = "{bus_port}"

[[buses]]
id = "bus2"
port = "{bus2_port}"

[[gates]]
id = "g1"
bus = "bus1"
unit = {g1_unit}

[[gates]]
id = "g2"
bus = "{g2_bus}"
unit = {g2_unit}

[[doors]]
id = "d1"
relay = {{ bus = "bus1", unit = {d1_unit}, coil = {d1_coil} }}
contact = {{ bus = "bus1", unit = {d1_unit}, input = {d1_input} }}

[[doors]]
id = "d2"
relay = {{ bus = "bus1", unit = {d2_unit}, coil = {d2_coil} }}

[[readers]]
id = "r1"
port = "{reader_port}"
gate = "g1"
"""

GOOD = {
    "bus_port": "/dev/ttyUSB0",
    "bus2_port": "/dev/ttyUSB1",
    "reader_port": "/dev/ttyUSB2",
    "g1_unit": 1,
    "g2_bus": "bus1",
    "g2_unit": 2,
    "d1_unit": 10,
    "d1_coil": 0,
    "d1_input": 0,
    "d2_unit": 10,  # d2's relay on d1's I/O module: one module, many doors
    "d2_coil": 1,
}


def site(**changes: object) -> str:
    return SITE.format(**{**GOOD, **changes})


def test_the_good_site_loads() -> None:
    cfg = config.parse(site())
    assert [g.unit for g in cfg.gates] == [1, 2]
    assert cfg.doors[0].relay and cfg.doors[0].contact and cfg.doors[1].relay


def test_the_same_unit_on_two_buses_is_two_devices() -> None:
    cfg = config.parse(site(g2_bus="bus2", g2_unit=1))
    assert [(g.bus, g.unit) for g in cfg.gates] == [("bus1", 1), ("bus2", 1)]


CASES = [
    ({"g1_unit": 0}, "gates[0].unit", "0 is broadcast"),
    ({"g1_unit": 248}, "gates[0].unit", "1-247"),
    ({"d1_unit": 300, "d2_unit": 300}, "doors[0].relay.unit", "1-247"),
    ({"d1_coil": 70000}, "doors[0].relay.coil", "0-65535"),
    ({"d1_input": -1}, "doors[0].contact.input", "0-65535"),
    ({"g2_unit": 1}, "gates[1].unit", "unit 1 on bus 'bus1' is already gate 'g1'"),
    ({"d1_unit": 2, "d2_unit": 2}, "doors[0].relay.unit", "already gate 'g2'"),
    ({"d2_coil": 0}, "doors[1].relay.coil", "coil 0 of unit 10 on bus 'bus1' is already wired"),
    ({"bus2_port": "/dev/ttyUSB0"}, "buses[1].port", "used twice: also buses[0].port"),
    ({"reader_port": "/dev/ttyUSB1"}, "readers[0].port", "used twice: also buses[1].port"),
]


@pytest.mark.parametrize(("changes", "key", "expected"), CASES)
def test_an_address_mistake_names_the_key(
    changes: dict[str, object], key: str, expected: str
) -> None:
    with pytest.raises(config.ConfigError) as exc:
        config.parse(site(**changes), "site.toml")
    assert exc.value.key == key
    assert expected in str(exc.value)


def _run_exits_2(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    result = edgectl("run", "--config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    stderr = result.stderr.replace("\n", "")
    assert key in stderr and expected in stderr, stderr


@pytest.mark.parametrize(("changes", "key", "expected"), CASES)
def test_edgectl_run_refuses_an_address_mistake(
    tmp_path: Path, changes: dict[str, object], key: str, expected: str
) -> None:
    _run_exits_2(tmp_path, site(**changes), key, expected)


@pytest.fixture
def pty() -> Iterator[str]:
    """A real serial-like character device (a pty's slave side)."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_a_symlink_to_a_bus_port_is_the_same_port(tmp_path: Path, pty: str) -> None:
    by_id = tmp_path / "serial" / "by-id"
    by_id.mkdir(parents=True)
    link = by_id / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
    link.symlink_to(pty)
    _run_exits_2(
        tmp_path,
        site(bus_port=pty, reader_port=str(link)),
        "readers[0].port",
        f"'{link}' and '{pty}' are one device",
    )


def test_a_symlink_to_a_missing_device_is_compared_by_its_target(tmp_path: Path) -> None:
    link = tmp_path / "by-id-gate-bus"
    link.symlink_to("/dev/ttyUSB0")  # not plugged in here: compared as a resolved path
    with pytest.raises(config.ConfigError) as exc:
        config.parse(site(bus2_port=str(link)))
    assert exc.value.key == "buses[1].port"


def test_two_device_nodes_of_one_device_are_the_same_port(tmp_path: Path, pty: str) -> None:
    node = tmp_path / "ttyGate"
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, os.stat(pty).st_rdev)
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    assert os.path.realpath(node) != os.path.realpath(pty)  # only st_rdev says they are one
    with pytest.raises(config.ConfigError) as exc:
        config.parse(site(bus_port=pty, bus2_port=str(node)))
    assert exc.value.key == "buses[1].port"
    assert "one device" in exc.value.problem


@given(st.integers(min_value=-(2**20), max_value=2**20))
def test_a_unit_is_accepted_exactly_when_it_is_1_to_247(unit: int) -> None:
    try:
        config.parse(site(g1_unit=unit))
    except config.ConfigError as exc:
        assert not 1 <= unit <= 247 or unit == 2  # 2 is g2's: a duplicate, not a range error
        assert exc.key == "gates[0].unit" if unit != 2 else exc.key == "gates[1].unit"
    else:
        assert 1 <= unit <= 247 and unit != 2


@given(st.integers(min_value=-(2**20), max_value=2**20))
def test_a_coil_is_accepted_exactly_when_it_is_0_to_65535(coil: int) -> None:
    try:
        config.parse(site(d1_coil=coil))
    except config.ConfigError as exc:
        assert not 0 <= coil <= 65535 or coil == 1  # 1 is d2's coil on the same module
        assert exc.key == ("doors[0].relay.coil" if coil != 1 else "doors[1].relay.coil")
    else:
        assert 0 <= coil <= 65535 and coil != 1
