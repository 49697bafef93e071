"""Shared fixtures: real parts only (a mosquitto broker, socat pty pairs, SQLite files)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from drivers.sim.ptys import PtyPair, make_pty_pair

__all__ = [
    "Broker",
    "PtyPair",
    "SecureBroker",
    "free_port",
    "make_pty_pair",
    "make_test_certs",
    "wait_port",
]

DOCS = Path(__file__).resolve().parents[1] / "docs"


# Shared, noisy 2-core machines: a slow example is not a failure (performance is measured in
# bench/, not in tests), and tests that need more examples say so themselves.
settings.register_profile(
    "edgectl", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("edgectl")


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


def make_test_certs(directory: Path) -> None:
    """A throwaway CA (ca.pem) and a server cert for 127.0.0.1/localhost, via openssl."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edgectl-test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem")  # fmt: skip


@dataclass
class SecureBroker(Broker):
    """mosquitto run from the shipped docs/mosquitto.conf and docs/mosquitto.acl, with
    password users, on a plain loopback ``port`` and a TLS ``tls_port`` (CA: ``ca``)."""

    tls_port: int = 0
    ca: Path = Path()
    users: dict[str, str] = field(default_factory=dict)


def secure_broker_in(directory: Path, users: dict[str, str]) -> SecureBroker:
    directory.mkdir(parents=True, exist_ok=True)
    make_test_certs(directory)
    passwd = directory / "passwd"
    passwd.touch()
    for user, password in users.items():
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True
        )
    shutil.copy(DOCS / "mosquitto.acl", directory / "mosquitto.acl")
    port, tls_port = free_port(), free_port()
    conf = (DOCS / "mosquitto.conf").read_text().replace("/etc/mosquitto/edgectl", str(directory))
    conf = conf.replace("listener 1883 ", f"listener {port} ").replace(
        "listener 8883", f"listener {tls_port} 127.0.0.1"
    )
    if os.geteuid() == 0:  # else mosquitto drops to its own user, who cannot read tmp_path
        conf = f"user root\n{conf}"
    (directory / "mosquitto.conf").write_text(conf)
    return SecureBroker(
        "127.0.0.1", port, directory / "mosquitto.conf", None, tls_port, directory / "ca.pem", users
    )


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    """Users: the daemon (edgectl), operators alice, gina, victor, mallory, and homeassistant (password "<user>-pw")."""
    users = {
        u: f"{u}-pw" for u in ("edgectl", "alice", "gina", "victor", "mallory", "homeassistant")
    }
    b = secure_broker_in(tmp_path / "broker", users)
    b.start()
    wait_port(b.tls_port)
    yield b
    b.stop()


@dataclass
class RefHub:
    """The reference hub (sync/hub) served in the test's loop on a free loopback port."""

    db: Path
    port: int
    site: str = "site-a"
    token: str = ""
    runner: object | None = None
    contract: Any = None  # tests.contract.ContractCheck: every answer checked against the contract

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        from sync.hub.app import start
        from tests.contract import ContractCheck

        self.contract = self.contract or ContractCheck()
        self.runner = await start(self.db, "127.0.0.1", self.port, on_app=self.contract.install)

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
    assert not hub.contract.problems, "hub answers break sync/openapi.yaml:\n" + "\n".join(
        hub.contract.problems
    )


def site_config(tmp_path: Path, hub_url: str, token: str, site: str = "site-a", **hub: object):  # type: ignore[no-untyped-def]
    """A parsed edgectl config for a site syncing with ``hub_url`` (extra [hub] keys allowed)."""
    from edgectl.config import parse

    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in hub.items())
    extra = extra.replace("True", "true").replace("False", "false")
    return parse(
        f'[site]\nid = "{site}"\n[store]\npath = "{tmp_path / "edge.db"}"\n'
        f'[hub]\nenabled = true\nurl = "{hub_url}"\ntoken = "{token}"\n{extra}'
    )
