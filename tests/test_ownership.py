"""Two processes, one site: one daemon owns the store, its serial ports and its control
socket; anything else that reaches for them is refused, naming the holder."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.sim.gate import start_sim_gates
from drivers.sim.ptys import PtyPair, make_pty_pair
from edgectl import control_client, tomlw
from edgectl.config import load
from tests.cli_helpers import REPO
from tests.daemon_helpers import running, wait_for
from tests.mounts import tmpfs
from tests.site import door_site


async def edgectl(*args: str) -> tuple[int, str]:
    """The real CLI in a subprocess, without blocking this loop (the daemon runs in it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edgectl", *args, env=env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    text = " ".join((out + err).decode().split())
    assert "Traceback" not in text, text
    return proc.returncode, text


def bus_site(directory: Path, port: str, socket_name: str = "control.sock") -> Path:
    path = directory / f"{socket_name}.toml"
    data = {
        "site": {"id": "s1"},
        "store": {"path": str(directory / "edgectl.db")},
        "daemon": {"control_socket": str(directory / socket_name), "log_level": "warning"},
        "buses": [{"id": "bus1", "port": port}],
        "gates": [{"id": "g1", "bus": "bus1"}],
    }
    path.write_text(tomlw.dumps(data))
    return path


async def test_second_daemon_on_the_same_store_exits_1_naming_the_holder(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    path, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    async with running(cfg) as (_daemon, events):
        await wait_for(events, "device_online")
        code, text = await edgectl("run", "--config", str(path))
        assert code == 1
        assert f"is in use by process {os.getpid()}" in text
        assert str(cfg.store.path) in text
        status, _ = await control_client.request(cfg.daemon.control_socket, "GET", "/v1/status")
        assert status == 200  # the first daemon's socket is still there and answers


async def test_scan_and_direct_gate_commands_refuse_a_port_the_daemon_owns(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    cfg = load(bus_site(tmp_path, pty_pair.host))
    other = bus_site(tmp_path, pty_pair.host, "elsewhere.sock")  # no daemon answers there
    sim = await start_sim_gates(pty_pair.device, {1: "generic"})
    async with running(cfg) as (_daemon, events):
        await wait_for(events, "device_online")
        code, text = await edgectl("scan", "modbus", "--port", pty_pair.host, "--units", "1")
        assert code == 1
        assert f"serial port {pty_pair.host} is in use by process {os.getpid()}" in text
        code, text = await edgectl("gate", "open", "g1", "--config", str(other))
        assert code == 1
        assert f"is in use by process {os.getpid()}" in text
    await sim.stop()


async def test_a_reader_port_has_one_owner(tmp_path: Path, pty_pair: PtyPair) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first = door_site(tmp_path / "a", {"r1": pty_pair.host})
    _, second = door_site(tmp_path / "b", {"r1": pty_pair.host})
    async with running(first) as (_d, events):
        await wait_for(events, "device_online")
        async with running(second) as (_d2, events2):
            offline = await wait_for(events2, "device_offline")
            assert f"in use by process {os.getpid()}" in offline.body["error"]


async def test_control_socket_never_removes_what_it_did_not_make(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    precious = tmp_path / "precious.db"
    precious.write_bytes(b"SQLite format 3\0 pretend")
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    cfg = type(cfg)(**{**_fields(cfg), "daemon": type(cfg.daemon)(control_socket=str(precious))})
    async with running(cfg) as (_daemon, events):
        await wait_for(events, "device_online")
    assert precious.read_bytes() == b"SQLite format 3\0 pretend"


async def test_a_live_socket_is_not_taken_over_and_survives_the_other_daemon(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    other = make_pty_pair(tmp_path, "other")
    try:
        _, first = door_site(tmp_path / "a", {"r1": pty_pair.host})
        _, second = door_site(tmp_path / "b", {"r2": other.host})
        shared = type(first.daemon)(control_socket=first.daemon.control_socket)
        second = type(second)(**{**_fields(second), "daemon": shared})
        async with running(first) as (_d, events):
            await wait_for(events, "device_online")
            async with running(second) as (_d2, events2):
                await wait_for(events2, "device_online")
            status, reply = await control_client.request(
                first.daemon.control_socket, "GET", "/v1/status"
            )
            assert status == 200
            assert any(d["id"] == "r1" for d in reply["devices"])
    finally:
        other.close()


def _fields(cfg: object) -> dict[str, object]:
    return {name: getattr(cfg, name) for name in cfg.__dataclass_fields__}  # type: ignore[attr-defined]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "fs") as mnt:
        yield mnt


async def test_a_store_on_a_read_only_filesystem_refuses_to_start(
    small_fs: Path, tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host}, store={"path": str(small_fs / "e.db")})
    async with running(cfg) as (_daemon, events):
        await wait_for(events, "device_online")
    view = tmp_path / "ro"  # the same files, through a read-only bind mount
    view.mkdir()
    subprocess.run(["mount", "--bind", "-o", "ro", str(small_fs), str(view)], check=True)
    try:
        path, _ = door_site(tmp_path, {"r1": pty_pair.host}, store={"path": str(view / "e.db")})
        code, text = await edgectl("run", "--config", str(path))
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)
    assert code == 1
    assert "is not writable" in text
    assert "mounted read-only" in text


async def test_a_store_owned_by_another_user_names_the_user_who_must_own_it(
    pty_pair: PtyPair, request: pytest.FixtureRequest
) -> None:
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"edgectl-owner-{os.getpid()}"
    home.mkdir(mode=0o755, exist_ok=True)
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    path, cfg = door_site(home, {"r1": pty_pair.host})
    async with running(cfg) as (_daemon, events):
        await wait_for(events, "device_online")
    os.chmod(pty_pair.host, 0o666)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "HOME": str(home)}
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         sys.executable, "-m", "edgectl", "run", "--config", str(path)],
        capture_output=True, text=True, timeout=60, env=env, cwd="/",
    )  # fmt: skip
    text = " ".join(done.stderr.split())
    assert done.returncode == 1, text
    assert "is not writable" in text
    assert "owned by root (uid 0); edgectl runs as nobody" in text
