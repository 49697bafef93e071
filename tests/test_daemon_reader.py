"""The daemon with real Wiegand converters on pty links: decisions, bad reads, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from drivers.sim.ptys import PtyPair
from drivers.sim.wiegand_converter import SimWiegandConverter
from edgectl.config import Config
from edgectl.daemon import Daemon
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.journal import Entry, read_entries
from tests.daemon_helpers import running, wait_for
from tests.site import door_site

__all__ = ["wait_for", "with_reader"]


@contextlib.asynccontextmanager
async def with_reader(
    cfg: Config, device: str
) -> AsyncIterator[tuple[Daemon, asyncio.Queue[Entry], SimWiegandConverter]]:
    """The daemon running ``cfg``, and a simulated converter on ``device``."""
    async with running(cfg) as (daemon, events):
        reader = SimWiegandConverter(device)
        try:
            yield daemon, events, reader
        finally:
            reader.close()


def journal(path: str) -> list[Entry]:
    conn = sqlite3.connect(path)
    try:
        return read_entries(conn, 0, 100000)
    finally:
        conn.close()


async def test_unknown_and_revoked_cards_are_denied_with_reason(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    async with with_reader(cfg, pty_pair.device) as (daemon, events, reader):
        await daemon.site.call(SiteService.add_card, "p1", 12, 100, actor=SYSTEM)
        await daemon.site.call(SiteService.set_card_status, 12, 100, "revoked", actor=SYSTEM)
        await wait_for(events, "device_online")
        reader.present("h10301", 12, 100)
        revoked = await wait_for(events, "access_decided")
        reader.present("h10301", 12, 999)
        unknown = await wait_for(events, "access_decided")
        assert (revoked.body["granted"], revoked.body["reason"]) == (False, "revoked")
        assert (unknown.body["granted"], unknown.body["reason"]) == (False, "unknown_credential")
        assert unknown.body["credential"] == "h10301:12:999"
        assert await asyncio.wait_for(reader.feedback.get(), 2) is False


async def test_bad_parity_and_bad_bit_count_journal_bad_read(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    async with with_reader(cfg, pty_pair.device) as (_daemon, events, reader):
        await wait_for(events, "device_online")
        line = reader.present("h10301", 1, 1)
        reader.write(line.replace(b"W26:", b"W27:"))  # length lies; checksum then fails too
        from drivers.wiegand.line import encode_frame

        reader.write(encode_frame(0b1_00000001_0000000000000001_1, 26))  # parity wrong
        reader.write(encode_frame(0x1FFFF, 26)[:6] + b"\r\n")  # truncated line
        first = await wait_for(events, "access_decided")
        reasons = [(await wait_for(events, "bad_read")).body["reason"] for _ in range(3)]
        assert first.body["reason"] == "unknown_credential"
        assert sorted(reasons) == ["checksum", "framing", "parity"]
        reader.present("h10301", 1, 2)
        assert (await wait_for(events, "access_decided")).body["credential"] == "h10301:1:2"


async def test_restart_keeps_journal_and_seq_has_no_gap(tmp_path: Path, pty_pair: PtyPair) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    for round_ in range(2):
        async with with_reader(cfg, pty_pair.device) as (_, events, reader):
            await wait_for(events, "device_online")
            for n in range(5):
                reader.present("h10301", 3, 10 * round_ + n)
                await wait_for(events, "access_decided")
    entries = journal(cfg.store.path)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    decided = [e.body["credential"] for e in entries if e.kind == "access_decided"]
    assert decided == [f"h10301:3:{n}" for n in (0, 1, 2, 3, 4, 10, 11, 12, 13, 14)]


async def test_missing_serial_port_goes_offline_with_retries_and_others_work(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"good": pty_pair.host, "gone": str(tmp_path / "ttyUSB9")})
    async with with_reader(cfg, pty_pair.device) as (_daemon, events, reader):
        offline = await wait_for(events, "device_offline")
        assert offline.source == "gone"
        assert "ttyUSB9" in offline.body["error"]
        reader.present("h10301", 5, 5)
        decided = await wait_for(events, "access_decided")
        assert decided.source == "good"
        restart = await wait_for(events, "driver_restarted")
        while restart.body["attempt"] < 2:
            restart = await wait_for(events, "driver_restarted")
        assert restart.source == "gone"


async def test_unreadable_store_denies_with_store_error_and_alarm_and_reader_lives_on(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    async with with_reader(cfg, pty_pair.device) as (daemon, events, reader):
        await daemon.site.call(SiteService.add_card, "p1", 12, 100, actor=SYSTEM)
        await wait_for(events, "device_online")
        other = sqlite3.connect(cfg.store.path, isolation_level=None)
        other.execute("ALTER TABLE credentials RENAME TO credentials_away")  # reads now fail
        reader.present("h10301", 12, 100)
        alarm = await wait_for(events, "access_alarm")  # journaled just before the decision
        denied = await wait_for(events, "access_decided")
        assert (denied.body["granted"], denied.body["reason"]) == (False, "store_error")
        assert (alarm.body["alarm"], alarm.body["target"]) == ("store_error", "door-r1")
        assert await asyncio.wait_for(reader.feedback.get(), 2) is False
        other.execute("ALTER TABLE credentials_away RENAME TO credentials")
        other.close()
        reader.present("h10301", 12, 100)  # the same reader driver, still running
        granted = await wait_for(events, "access_decided")
        assert (granted.body["granted"], granted.body["reason"]) == (True, "granted")
