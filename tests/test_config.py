"""Config loading: every mistake names the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgectl import config
from edgectl.simulation import write_config
from tests.cli_helpers import edgectl

BASE = """
[site]
id = "s1"
timezone = "Europe/London"

[[buses]]
id = "bus1"
port = "/dev/ttyUSB0"

[[gates]]
id = "g1"
bus = "bus1"

[[readers]]
id = "r1"
port = "/dev/ttyUSB1"
gate = "g1"
"""


def test_example_config_is_valid() -> None:
    cfg = config.load(Path(__file__).resolve().parents[1] / "config.example.toml")
    assert cfg.site.id == "compound-01"
    assert cfg.readers[0].target == "main-gate"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (BASE + "\n[store]\npathh = 'x'\n", "store.pathh", "unknown key"),
        (BASE.replace('id = "s1"', "id = 5"), "site.id", "expected a string"),
        (BASE.replace('bus = "bus1"', 'bus = "bus9"'), "gates[0].bus", "expected one of ['bus1']"),
        (
            BASE + '\n[[readers]]\nid = "g1"\nport = "/dev/ttyUSB2"\ngate = "g1"\n',
            "readers[1].id",
            "duplicate device id 'g1'",
        ),
        (BASE.replace("Europe/London", "Mars/Olympus"), "site.timezone", "IANA zone"),
        (
            BASE.replace('gate = "g1"', 'gate = "g1"\nformats = ["h10301", "nope"]'),
            "readers[0].formats[1]",
            "nope",
        ),
        (
            BASE + "\n[[buses]]\nid = 'bus2'\nport = '/dev/ttyUSB1'\n",
            "readers[0].port",
            "used twice",
        ),
        (
            BASE.replace('port = "/dev/ttyUSB0"', 'port = "/dev/ttyUSB0"\nbaud = 9601'),
            "buses[0].baud",
            "standard baud",
        ),
        (BASE + "\n[mqtt]\nport = 'high'\n", "mqtt.port", "expected an integer"),
        ("[site\nid=1", "", "not valid TOML"),
    ],
)
def test_invalid_config_names_the_key(text: str, key: str, expected: str) -> None:
    with pytest.raises(config.ConfigError) as exc:
        config.parse(text, "site.toml")
    assert exc.value.key == key
    assert expected in str(exc.value)
    assert str(exc.value).startswith("site.toml: ")


def test_run_with_invalid_config_exits_2_and_names_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace('bus = "bus1"', 'bus = "nowhere"'))
    result = edgectl("run", "--config", str(bad))
    assert result.returncode == 2
    assert "gates[0].bus" in result.stderr
    assert str(bad) in result.stderr.replace("\n", "")


def test_run_with_missing_config_exits_2(tmp_path: Path) -> None:
    result = edgectl("run", "--config", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_arbitrary_text_never_crashes_the_loader(text: str) -> None:
    try:
        config.parse(text)
    except config.ConfigError:
        pass


@given(
    st.sampled_from(["site", "store", "daemon", "mqtt", "hub", "access"]),
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
)
def test_unknown_key_in_any_section_is_named(section: str, name: str) -> None:
    key = f"zz_{name}"
    text = BASE if section != "site" else BASE.replace('id = "s1"', f'id = "s1"\n{key} = 1')
    if section != "site":
        text += f"\n[{section}]\n{key} = 1\n"
    try:
        cfg = config.parse(text)
    except config.ConfigError as exc:
        assert exc.key == f"{section}.{key}"
    else:
        raise AssertionError(f"{section}.{key} accepted: {cfg}")


def test_overrides_write_a_loadable_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"mqtt": {"enabled": True, "port": 1999}})
    cfg = config.load(path)
    assert cfg.mqtt.enabled and cfg.mqtt.port == 1999
    assert cfg.store.path == str(tmp_path / "edgectl.db")
