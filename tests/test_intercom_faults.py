"""Bad input from an intercom never stalls its driver: truncated, malformed and 10 MB parts
are skipped and counted and the next event still arrives; HTTPS with a CA file or a pinned
certificate fingerprint."""

from __future__ import annotations

import hashlib
import json
import ssl
from pathlib import Path

import pytest

from edgectl.domain import CredentialPresented
from edgectl.readtap import read_json
from edgectl.router import credential_label
from tests.conftest import make_test_certs
from tests.intercom_rig import driven, rig_for, settings_for, sim_device, wait_until

TEN_MB = 10 * 1024 * 1024


def part(boundary: str, content_type: str, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    head = f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Length: {n}\r\n\r\n"
    return head.encode() + body + b"\r\n"


MULTIPART = {
    "hikvision": ("MIME_boundary", "application/json"),
    "dahua": ("myboundary", "text/plain"),
}


@pytest.mark.parametrize("vendor", sorted(MULTIPART))
async def test_truncated_and_malformed_parts_are_skipped(vendor: str) -> None:
    boundary, ctype = MULTIPART[vendor]
    async with rig_for(vendor) as rig:
        rig.sim.raw(part(boundary, ctype, b'{"eventType": "AccessCon', length=500))  # truncated
        rig.sim.raw(part(boundary, "application/xml", b"<EventNotificationAlert><eventType>"))
        rig.sim.raw(part(boundary, ctype, b"\xff\xfe not text"))
        rig.sim.card(99)
        await rig.wait("credential_presented", number=99)
        assert sum(rig.driver.unknown.values()) >= 3
        assert rig.count("device_offline") == 0


@pytest.mark.parametrize("vendor", sorted(MULTIPART))
async def test_a_10_mb_part_is_skipped_without_buffering_it(vendor: str) -> None:
    boundary, ctype = MULTIPART[vendor]
    async with rig_for(vendor) as rig:
        rig.sim.raw(part(boundary, ctype, b"x" * TEN_MB))
        rig.sim.raw(part(boundary, ctype, b"y" * TEN_MB, length=0))  # a lying length too
        rig.sim.card(100)
        await rig.wait("credential_presented", number=100, within_s=15)
        assert rig.driver.unknown["part_too_large"] == 1
        assert sum(rig.driver.unknown.values()) >= 2  # the empty part the lie announced
        assert rig.count("device_offline") == 0


@pytest.mark.parametrize("vendor", sorted(MULTIPART))
async def test_a_part_cut_by_the_connection_closing_reconnects(vendor: str) -> None:
    boundary, ctype = MULTIPART[vendor]
    async with rig_for(vendor) as rig:
        rig.sim.raw(part(boundary, ctype, b"{", length=900)[:60], then_close=True)
        await rig.wait("device_offline")
        await wait_until(lambda: rig.count("device_online") == 2)
        rig.sim.card(101)
        await rig.wait("credential_presented", number=101)


async def test_2n_malformed_and_oversize_pull_replies_are_skipped() -> None:
    async with rig_for("2n") as rig:
        rig.sim.raw(b'{"success": tru')
        rig.sim.raw(b'{"success": true, "result": {"events": [{"event": 5}, "x"]}}')
        rig.sim.raw(b'{"success": true, "result": {"events": [' + b" " * TEN_MB + b"]}}")
        rig.sim.card(102)
        await rig.wait("credential_presented", number=102, within_s=15)
        assert rig.driver.unknown["pull_reply"] == 1
        assert rig.driver.unknown["malformed_event"] == 2
        assert rig.driver.unknown["pull_reply_too_large"] == 1


async def test_2n_code_entered_carries_the_digits_to_the_decision_only() -> None:
    """The driver's event holds the digits in memory for the access decision; what leaves
    it is digit-free: the installer's read tap shows a keypad entry, the router journals
    only the decision (``credential = "keypad"``; end to end in test_intercom_calls.py)."""
    async with rig_for("2n") as rig:
        rig.sim.code("48151623")
        event = await rig.wait("credential_presented")
        assert isinstance(event, CredentialPresented)
        assert (event.format, event.pin) == ("pin", "48151623")
        assert credential_label(event) == "keypad"
        shown = read_json(event)
        assert shown["kind"] == "keypad" and "48151623" not in json.dumps(shown)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    make_test_certs(directory)
    return directory


def server_context(certs: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / "server.pem", certs / "server.key")
    return ctx


def fingerprint(certs: Path) -> str:
    der = ssl.PEM_cert_to_DER_cert((certs / "server.pem").read_text())
    return hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("trust", ["ca_file", "fingerprint"])
async def test_https_with_a_ca_file_or_a_pinned_fingerprint(certs: Path, trust: str) -> None:
    value = str(certs / "ca.pem") if trust == "ca_file" else fingerprint(certs)
    async with sim_device("hikvision", ssl_context=server_context(certs)) as sim:
        assert sim.url.startswith("https://")
        async with driven(sim, settings_for("hikvision", sim.url, **{trust: value})) as rig:
            await rig.wait("device_online")
            sim.card(5)
            await rig.wait("credential_presented", number=5)


async def test_https_with_the_wrong_pin_stays_offline(certs: Path) -> None:
    async with sim_device("dahua", ssl_context=server_context(certs)) as sim:
        settings = settings_for("dahua", sim.url, fingerprint="00" * 32)
        async with driven(sim, settings) as rig:
            offline = await rig.wait("device_offline")
            assert "fingerprint" in offline.body()["error"].lower()
            assert sim.streams == 0 and rig.count("device_online") == 0
