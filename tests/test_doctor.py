"""``edgectl doctor`` against real parts: each field mistake is named with its fix, and the
exit status is non-zero. The doctor runs as a subprocess, as an installer runs it."""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edgectl import tomlw
from edgectl.doctor import files
from edgectl.simulation import simulated_compound
from tests.cli_helpers import edgectl_async
from tests.conftest import RefHub, SecureBroker
from tests.site import door_site


async def doctor(config: Path) -> tuple[int, str]:
    return await edgectl_async("doctor", "--config", str(config))


def row(out: str, check: str) -> str:
    """The table row of ``check`` (the table is wide enough not to wrap)."""
    rows = [line for line in out.splitlines() if line.startswith(f"│ {check} ")]
    assert rows, f"no row for {check!r} in:\n{out}"
    return rows[0]


def private(path: Path) -> Path:
    path.chmod(0o600)
    return path


def rewrite(config: Path, change: dict[str, Any]) -> Path:
    data = tomllib.loads(config.read_text())
    for section, values in change.items():
        if isinstance(data.get(section), list):
            data[section][0].update(values)
        else:
            data.setdefault(section, {}).update(values)
    config.write_text(tomlw.dumps(data))
    return private(config)


async def test_a_gate_on_the_wrong_unit_names_the_unit_that_answered(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path) as compound:
        assert compound.config.gates[0].unit == 1
        config = rewrite(tmp_path / "config.toml", {"gates": {"unit": 9}})
        code, out = await doctor(config)
    assert code == 1
    line = row(out, "gate main-gate")
    assert "FAIL" in line
    assert "unit 9 did not answer; unit 1 answered with a came_zlb30 gate" in line
    assert "set unit = 1 for gate main-gate" in line


async def test_a_gate_on_its_unit_is_ok(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path):
        _code, out = await doctor(private(tmp_path / "config.toml"))
    line = row(out, "gate main-gate")
    assert "ok" in line and "unit 1 answered: closed" in line
    assert "config file" in out and "world-readable" not in out


async def test_a_wrong_hub_token_is_named(tmp_path: Path, ref_hub: RefHub) -> None:
    config, _ = door_site(tmp_path, {}, hub={"enabled": True, "url": ref_hub.url, "token": "x"})
    code, out = await doctor(rewrite(config, {"site": {"id": "site-a"}}))
    assert code == 1
    line = row(out, "hub")
    assert "FAIL" in line and "refused the token (401)" in line
    assert "put this site's token from the hub in [hub] token" in line


async def test_the_right_hub_token_is_ok(tmp_path: Path, ref_hub: RefHub) -> None:
    hub = {"enabled": True, "url": ref_hub.url, "token": ref_hub.token}
    config, _ = door_site(tmp_path, {}, hub=hub)
    _, out = await doctor(rewrite(config, {"site": {"id": "site-a"}}))
    assert "token accepted for site site-a" in row(out, "hub")


async def test_https_against_a_plain_http_hub_is_named(tmp_path: Path, ref_hub: RefHub) -> None:
    url = ref_hub.url.replace("http://", "https://")
    config, _ = door_site(tmp_path, {}, hub={"enabled": True, "url": url, "token": ref_hub.token})
    code, out = await doctor(rewrite(config, {"site": {"id": "site-a"}}))
    assert code == 1
    line = row(out, "hub")
    assert "does not speak TLS (https against plain http)" in line
    assert "use http://" in line


async def test_a_wrong_hub_path_is_named(tmp_path: Path, ref_hub: RefHub) -> None:
    hub = {"enabled": True, "url": ref_hub.url + "/api/sync", "token": ref_hub.token}
    config, _ = door_site(tmp_path, {}, hub=hub)
    code, out = await doctor(rewrite(config, {"site": {"id": "site-a"}}))
    assert code == 1
    assert "no sync API at this path (404)" in row(out, "hub")


async def test_a_wrong_broker_password_is_named(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    mqtt = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": secure_broker.port,
        "username": "edgectl",
        "password": "not-the-password",
    }
    config, _ = door_site(tmp_path, {}, mqtt=mqtt)
    code, out = await doctor(private(config))
    assert code == 1
    line = row(out, "mqtt broker")
    # mosquitto answers a wrong password with "not authorised" (135), others with 134
    assert "refused login for edgectl: " in line and "password" in line
    assert "check [mqtt] username and password" in line

    mqtt["password"] = "edgectl-pw"
    config, _ = door_site(tmp_path, {}, mqtt=mqtt)
    _, out = await doctor(private(config))
    assert "logged in as edgectl" in row(out, "mqtt broker")


def test_a_port_held_by_another_process_is_named(tmp_path: Path, pty_pair: Any) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import os, sys, time; os.open({pty_pair.host!r}, os.O_RDWR | os.O_NOCTTY);"
            "print('held', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        config, _ = door_site(tmp_path, {"r1": pty_pair.host})
        code, out = asyncio.run(doctor(private(config)))
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    line = row(out, "serial r1")
    assert f"is held by pid {holder.pid} (python" in line
    assert f"kill {holder.pid}" in line


def test_a_world_readable_config_is_named(tmp_path: Path) -> None:
    config, _ = door_site(tmp_path, {})
    config.chmod(0o644)
    code, out = asyncio.run(doctor(config))
    assert code == 1
    line = row(out, "config file")
    assert "is world-readable (mode 0644); it holds secrets" in line
    assert f"chmod 600 {config}" in line


def test_disabled_sections_say_disabled(tmp_path: Path) -> None:
    config, _ = door_site(tmp_path, {})
    _, out = asyncio.run(doctor(private(config)))
    assert "disabled ([mqtt] enabled = false)" in row(out, "mqtt broker")
    assert "disabled ([hub] enabled = false)" in row(out, "hub")


@pytest.mark.skipif(os.geteuid() != 0, reason="hands files to other users")
def test_files_owned_by_someone_else_are_named_with_the_chown_that_fixes_them(
    tmp_path: Path,
) -> None:
    """As installed: the service user (here the stock ``nobody``) must own the store, and
    the config must be the service's or root's, never another user's."""
    store = tmp_path / "state" / "edgectl.db"
    store.parent.mkdir()
    store.write_bytes(b"")
    check = files.store_file(store, user="nobody")
    assert not check.ok and "the service runs as nobody" in check.detail
    assert check.fix == f"chown -R nobody:nobody {store.parent}"
    for target in (store, store.parent):
        os.chown(target, pwd.getpwnam("nobody").pw_uid, -1)
    assert files.store_file(store, user="nobody").ok

    config = tmp_path / "edgectl.toml"
    config.write_text("")
    config.chmod(0o600)
    assert files.config_file(config, user="nobody").ok  # root's is fine
    os.chown(config, 4242, 4242)  # an installer's own account
    check = files.config_file(config, user="nobody")
    assert not check.ok and "owned by 4242, not by nobody or root" in check.detail
    assert check.fix == f"chown nobody:nobody {config}"
    assert files.store_file(store, user="no-such-user").ok  # not installed as a service
