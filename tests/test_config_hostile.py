"""A careless or hostile config file, through ``edgectl run --config``: exit 2 and a message
that names the key (or the file) and the problem, never a traceback."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_helpers import edgectl

BASE = """
[site]
id = "s1"
name = "Résidence"

[store]
path = "{dir}/edgectl.db"

[daemon]
control_socket = "{dir}/control.sock"

[[buses]]
id = "bus1"
port = "/dev/ttyUSB0"

[[gates]]
id = "g1"
bus = "bus1"
"""


def run_config(tmp_path: Path, data: bytes) -> tuple[int, str]:
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    result = edgectl("run", "--config", str(path))
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, " ".join(result.stderr.split())


def base(tmp_path: Path, extra: str = "") -> str:
    return BASE.format(dir=tmp_path) + extra


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        (lambda t: t.encode("latin-1"), "not UTF-8: byte 0xE9 at line 4"),
        (lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"), "UTF-16 (little-endian)"),
        (lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"), "byte order mark (FE FF)"),
        (lambda t: t.encode("utf-16-le"), "NUL bytes"),
    ],
    ids=["latin-1", "utf-16-le-bom", "utf-16-be-bom", "utf-16-no-bom"],
)
def test_a_file_not_in_utf8_says_utf8_is_expected(
    tmp_path: Path, encode: Callable[[str], bytes], expected: str
) -> None:
    code, err = run_config(tmp_path, encode(base(tmp_path)))
    assert code == 2
    assert expected in err
    assert "expected UTF-8" in err


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    from edgectl import config

    path = tmp_path / "config.toml"
    path.write_bytes(codecs.BOM_UTF8 + base(tmp_path).encode())
    assert config.load(path).site.name == "Résidence"


def test_a_deeply_nested_value_is_an_error_not_a_crash(tmp_path: Path) -> None:
    code, err = run_config(tmp_path, base(tmp_path, "\n[x]\ny = " + "[" * 5000).encode())
    assert code == 2
    assert "nested too deeply" in err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '\n[[doors]]\nid = "d1"\nrelay = {bus = "bus1", unit = 2, coil = "0"}\n',
            "doors[0].relay.coil: expected an integer, got '0'",
        ),
        (
            "\n[mqtt]\ntls = {ca_file = 5}\n",
            "mqtt.tls.ca_file: expected a string, got 5",
        ),
        (
            '\n[mqtt]\ntls = {nope = ""}\n',
            "mqtt.tls.nope: unknown key",
        ),
    ],
)
def test_errors_inside_optional_tables_name_the_inner_key(
    tmp_path: Path, extra: str, expected: str
) -> None:
    code, err = run_config(tmp_path, base(tmp_path, extra).encode())
    assert code == 2
    assert expected in err


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        (
            "\n[[gates]]\nid = 'g2'\nbus = 'bus1'\nunit = 2\npoll_interval_s = nan\n",
            "gates[1].poll_interval_s",
            "expected a finite number, got nan",
        ),
        ("\n[[doors]]\nid = 'd1'\nunlock_s = -5\n", "doors[0].unlock_s", "expected 0 or more"),
        ("\n[access]\npin_timeout_s = -1\n", "access.pin_timeout_s", "expected 0 or more"),
        (
            "\n[access]\nmax_offline_days = nan\n",
            "access.max_offline_days",
            "expected a finite number",
        ),
        (
            "\n[access]\nmax_offline_days = inf\n",
            "access.max_offline_days",
            "expected a finite number",
        ),
    ],
)
def test_nan_infinite_and_negative_durations_are_refused(
    tmp_path: Path, extra: str, key: str, problem: str
) -> None:
    code, err = run_config(tmp_path, base(tmp_path, extra).encode())
    assert code == 2
    assert f"{key}: {problem}" in err


def test_a_negative_budget_is_refused(tmp_path: Path) -> None:
    text = base(tmp_path).replace('edgectl.db"', 'edgectl.db"\ndisk_budget_mb = -1')
    code, err = run_config(tmp_path, text.encode())
    assert code == 2
    assert "store.disk_budget_mb: expected 0 or more, got -1" in err


@pytest.mark.parametrize(
    ("section", "key", "other"),
    [
        ('[daemon]\ncontrol_socket = "{dir}/edgectl.db"', "daemon.control_socket", "store.path"),
        (
            '[daemon]\ncontrol_socket = "{dir}/edgectl.db-wal"',
            "daemon.control_socket",
            "store.path",
        ),
        (
            '[[readers]]\nid = "r1"\nport = "{dir}/./edgectl.db"\ngate = "g1"',
            "readers[0].port",
            "store.path",
        ),
        (
            '[mqtt]\ntls = {{ca_file = "{dir}/control.sock"}}',
            "mqtt.tls.ca_file",
            "daemon.control_socket",
        ),
    ],
)
def test_paths_that_are_one_file_are_refused(
    tmp_path: Path, section: str, key: str, other: str
) -> None:
    (tmp_path / "control.sock").touch()  # a TLS file must exist to be checked further
    text = (
        base(tmp_path).replace("[daemon]\n", "[old_daemon]\n")
        if "[daemon]" in section
        else base(tmp_path)
    )
    text = text.replace(f'[old_daemon]\ncontrol_socket = "{tmp_path}/control.sock"\n', "")
    code, err = run_config(tmp_path, (text + "\n" + section.format(dir=tmp_path) + "\n").encode())
    assert code == 2
    assert f"{key}: " in err and f"is the same file as {other}" in err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("\n[daemon]\nmetrics_port = 70000\n", "daemon.metrics_port: expected a TCP port"),
        ("\n[mqtt]\nport = 0\n", "mqtt.port: expected a TCP port 1-65535"),
        (
            '\n[[buses]]\nid = "gw"\nkind = "tcp"\nhost = "10.0.0.5"\nport = 1502\n',
            "buses[1].port: expected a string, got 1502; for a tcp bus the TCP port is tcp_port",
        ),
        (
            '\n[[buses]]\nid = "gw"\nkind = "tcp"\nhost = "10.0.0.5"\nport = "1502"\n',
            "buses[1].port: a tcp bus takes its TCP port in tcp_port",
        ),
        (
            '\n[[buses]]\nid = "gw"\nkind = "tcp"\nhost = "10.0.0.5"\ntcp_port = 70000\n',
            "buses[1].tcp_port: expected a TCP port 1-65535",
        ),
        (
            '\n[hub]\nenabled = true\nurl = "https://hub.example"\n',
            "hub.token: expected the site's token",
        ),
        (
            '\n[hub]\nenabled = true\nurl = "https://hub.example:99999"\ntoken = "t"\n',
            "hub.url: expected a TCP port 1-65535",
        ),
    ],
)
def test_ports_tokens_and_tcp_buses_are_checked(tmp_path: Path, extra: str, expected: str) -> None:
    text = base(tmp_path)
    if "[daemon]" in extra:
        text = text.replace("[daemon]\n", "")
        extra = extra.replace("[daemon]\n", f'[daemon]\ncontrol_socket = "{tmp_path}/c.sock"\n')
        text = text.replace(f'control_socket = "{tmp_path}/control.sock"\n', "")
    code, err = run_config(tmp_path, (text + extra).encode())
    assert code == 2
    assert expected in err
