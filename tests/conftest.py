"""Shared fixtures: real parts only (a mosquitto broker, socat pty pairs, SQLite files)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.sim.ptys import PtyPair, make_pty_pair

__all__ = ["Broker", "PtyPair", "free_port", "make_pty_pair", "wait_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Broker:
    """A real mosquitto process on a free loopback port."""

    host: str
    port: int
    conf: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None


def write_broker_conf(path: Path, port: int, extra: str = "") -> Path:
    path.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra}")
    return path


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    port = free_port()
    b = Broker("127.0.0.1", port, write_broker_conf(tmp_path / "mosquitto.conf", port))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[PtyPair]:
    pair = make_pty_pair(tmp_path)
    yield pair
    pair.close()


@dataclass
class RefHub:
    """The reference hub (sync/hub) served in the test's loop on a free loopback port."""

    db: Path
    port: int
    site: str = "site-a"
    token: str = ""
    runner: object | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        from sync.hub.app import start

        self.runner = await start(self.db, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()  # type: ignore[attr-defined]
            self.runner = None


@pytest.fixture
async def ref_hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    from sync.hub.store import HubStore

    db = tmp_path / "hub.db"
    store = HubStore(db)
    hub = RefHub(db, free_port(), token=store.add_site("site-a", "Site A"))
    store.close()
    await hub.start()
    yield hub
    await hub.stop()


def site_config(tmp_path: Path, hub_url: str, token: str, site: str = "site-a", **hub: object):  # type: ignore[no-untyped-def]
    """A parsed edgectl config for a site syncing with ``hub_url`` (extra [hub] keys allowed)."""
    from edgectl.config import parse

    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in hub.items())
    extra = extra.replace("True", "true").replace("False", "false")
    return parse(
        f'[site]\nid = "{site}"\n[store]\npath = "{tmp_path / "edge.db"}"\n'
        f'[hub]\nenabled = true\nurl = "{hub_url}"\ntoken = "{token}"\n{extra}'
    )
