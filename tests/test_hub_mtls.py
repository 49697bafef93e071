"""Mutual TLS: a site authenticates with a client certificate whose common name is its id."""

from __future__ import annotations

import subprocess
from pathlib import Path

import aiohttp

from edgectl.config import parse
from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal
from sync.client import SyncClient, ssl_context
from sync.hub.app import server_ssl, start
from sync.hub.store import HubStore
from tests.conftest import free_port
from tests.sync_support import make_event, run_until


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(d: Path) -> None:
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(d / "ca.key"),
        "-out",
        str(d / "ca.pem"),
    )
    (d / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    for name, cn in (("server", "127.0.0.1"), ("site-a", "site-a"), ("site-b", "site-b")):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            str(d / f"{name}.key"),
            "-out",
            str(d / f"{name}.csr"),
        )
        openssl(
            "x509",
            "-req",
            "-in",
            str(d / f"{name}.csr"),
            "-CA",
            str(d / "ca.pem"),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(d / "san.ext"),
            "-out",
            str(d / f"{name}.pem"),
        )


async def test_client_certificate_authenticates_its_own_site_only(tmp_path: Path) -> None:
    make_pki(tmp_path)
    store = HubStore(tmp_path / "hub.db")
    store.add_site("site-a")
    store.close()
    port = free_port()
    ctx = server_ssl(
        str(tmp_path / "server.pem"), str(tmp_path / "server.key"), str(tmp_path / "ca.pem")
    )
    runner = await start(tmp_path / "hub.db", "127.0.0.1", port, ssl_context=ctx)
    try:

        def config(cert: str):  # type: ignore[no-untyped-def]
            return parse(
                f'[site]\nid = "site-a"\n[store]\npath = "{tmp_path / "edge.db"}"\n'
                f'[hub]\nenabled = true\nurl = "https://127.0.0.1:{port}"\n'
                f'[hub.tls]\nca_file = "{tmp_path / "ca.pem"}"\n'
                f'cert_file = "{tmp_path / cert}.pem"\nkey_file = "{tmp_path / cert}.key"\n'
            )

        cfg = config("site-a")
        journal = Journal(cfg.store.path)
        for i in range(9):
            journal.append(make_event(i))
        await journal.append(make_event(9))
        conn = connect(cfg.store.path)
        await run_until(SyncClient(cfg, cfg.store.path), lambda: kv.acked_seq(conn) == 10)
        # site-b's certificate cannot speak for site-a
        other = ssl_context(config("site-b").hub.tls)
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"https://127.0.0.1:{port}/v1/sites/site-a/events/ack", ssl=other
            ) as r:
                assert r.status == 403
                assert (await r.json())["error"]["code"] == "forbidden"
        # a disabled site (a stolen box): its own certificate gets 401
        store = HubStore(tmp_path / "hub.db")
        store.set_disabled("site-a", True)
        store.close()
        own = ssl_context(cfg.hub.tls)
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"https://127.0.0.1:{port}/v1/sites/site-a/events/ack", ssl=own
            ) as r:
                assert r.status == 401
                assert "disabled" in (await r.json())["error"]["message"]
        await journal.close()
    finally:
        await runner.cleanup()
