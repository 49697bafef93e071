"""Every change to a credential leaves an audit event naming the actor and the interface,
committed with the change: from the CLI, the control socket, MQTT (the hub pull is in
tests/test_e2e_hub.py and tests/test_sync_apply.py). PINs and codes never appear."""

from __future__ import annotations

import getpass
import os
import sqlite3
from pathlib import Path

from drivers.sim.ptys import PtyPair
from edgectl.commands import local
from edgectl.control_client import request
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from tests.access_site import access_site
from tests.cli_helpers import edgectl
from tests.conftest import SecureBroker
from tests.daemon_helpers import running, wait_for
from tests.mqtt_console import console, running_site
from tests.site import door_site
from tests.test_daemon_reader import journal


def audits(path: str) -> list[tuple[str, str, str, str]]:
    return [
        (e.body["actor"], e.body["interface"], e.body["action"], e.body["subject"])
        for e in journal(path)
        if e.kind == "site_changed"
    ]


def rows(path: str, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_cli_add_and_revoke_are_audited_and_add_is_all_or_nothing(tmp_path: Path) -> None:
    cfg = access_site(tmp_path)
    conf, db = str(tmp_path / "config.toml"), cfg.store.path
    bad = edgectl("cards", "add", "p1", "--card", "10:5", "--level", "no-such-level", "-c", conf)
    assert bad.returncode == 1 and "no access level 'no-such-level'" in bad.stderr
    assert rows(db, "SELECT id FROM people") == []  # neither the person nor the card
    assert rows(db, "SELECT id FROM credentials") == []
    assert audits(db) == []
    done = edgectl("cards", "add", "p1", "--card", "10:5", "--pin", "8642", "-c", conf)
    assert done.returncode == 0, done.stderr
    assert edgectl("cards", "revoke", "--card", "10:5", "-c", conf).returncode == 0
    user = getpass.getuser()
    assert audits(db) == [
        (user, "cli", "credential_add", "card 10:5"),
        (user, "cli", "credential_status", "credential #1"),
    ]
    assert all("8642" not in str(e.body) for e in journal(db))  # never the PIN


async def test_control_socket_status_change_is_audited_and_fanned_out(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    async with running(cfg) as (daemon, events):
        await daemon.site.call(SiteService.add_card, "p1", 12, 100, actor=SYSTEM)
        sock = cfg.daemon.control_socket
        body = {"facility": 12, "number": 100, "status": "suspended"}
        status, reply = await request(sock, "POST", "/v1/credentials/status", body)
        assert (status, reply) == (200, {"status": "ok"})
        missing = await request(sock, "POST", "/v1/credentials/status", {**body, "number": 9})
        assert missing == (404, {"status": "error", "code": "not_found", "message": "no card 12:9"})
        refused = await request(sock, "POST", "/v1/credentials/status", {**body, "status": "x"})
        assert refused[0] == 400 and "status: expected one of" in refused[1]["message"]
        # committed by the service's own connection, yet fanned out like any journal entry
        first = await wait_for(events, "site_changed")
        second = await wait_for(events, "site_changed")
        assert (first.body["interface"], first.body["action"]) == ("system", "card_add")
        assert (second.body["actor"], second.body["interface"]) == (
            f"local:{local.user_name(os.getuid())}",  # the one pipeline names local users
            "control",
        )
        assert (second.body["subject"], second.body["details"]) == (
            "card 12:100",
            {"status": "suspended"},
        )
    assert rows(cfg.store.path, "SELECT status FROM credentials") == [("suspended",)]
    assert [a[:3] for a in audits(cfg.store.path)][-1] == (
        f"local:{local.user_name(os.getuid())}",  # the one pipeline names local users
        "control",
        "credential_status",
    )


async def test_mqtt_credential_suspend_and_visitor_pass_are_audited(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "alice") as alice,
    ):
        daemon = site.daemon
        await daemon.site.call(SiteService.add_card, "p1", 12, 345, actor=SYSTEM)
        reply = await alice.request("credential/suspend", {"facility": 12, "number": 345})
        assert reply["status"] == "ok", reply
        path = site.compound.config.store.path
    assert audits(path)[-1] == ("alice", "mqtt", "credential_status", "card 12:345")


async def test_visitor_code_never_reaches_the_audit(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.mqtt_console import GATE

    async with (
        running_site(tmp_path, secure_broker) as site,
        console(secure_broker, "gina") as gina,
    ):
        await site.daemon.site.call(SiteService.upsert_person, "res-1", actor=SYSTEM)
        until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        body = {"name": "Guest", "host": "res-1", "until": until, "gates": [GATE]}
        reply = await gina.request("visitor/issue", body)
        code = reply["result"]["code"]
        assert (await gina.request("visitor/revoke", {"code": code}))["status"] == "ok"
        path = site.compound.config.store.path
    issued, revoked = audits(path)[-2:]
    assert issued == ("gina", "mqtt", "visitor_pass_issue", "visitor pass")
    assert revoked == ("gina", "mqtt", "visitor_pass_revoke", "visitor pass")
    assert all(code not in str(e.body) for e in journal(path) if e.kind == "site_changed")
