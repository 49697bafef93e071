"""The installer's command line, run as a real subprocess against real files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from drivers.sim.ptys import PtyPair
from edgectl.domain import BadRead
from edgectl.store.journal import Journal
from tests.cli_helpers import REPO, edgectl
from tests.daemon_helpers import running, wait_for
from tests.site import door_site


async def _append(db: str, n: int) -> None:
    journal = Journal(db)
    await asyncio.gather(
        *(
            journal.append(BadRead(source="r1", at=datetime.now(UTC), reason="parity", length=i))
            for i in range(n)
        )
    )
    await journal.close()


def test_events_tail_prints_newest_and_json(tmp_path: Path) -> None:
    config, cfg = door_site(tmp_path, {"r1": "/dev/null"})
    asyncio.run(_append(cfg.store.path, 30))
    result = edgectl("events", "tail", "--config", str(config), "-n", "5", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [26, 27, 28, 29, 30]
    assert rows[-1]["kind"] == "bad_read" and rows[-1]["body"]["length"] == 0x1D
    assert rows[-1]["schema_version"] == 1


def test_events_tail_follow_sees_events_written_by_another_process(tmp_path: Path) -> None:
    config, cfg = door_site(tmp_path, {"r1": "/dev/null"})
    asyncio.run(_append(cfg.store.path, 1))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgectl",
            "events",
            "tail",
            "--config",
            str(config),
            "--follow",
            "--json",
        ],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["seq"] == 1
        asyncio.run(_append(cfg.store.path, 2))
        seqs = [json.loads(proc.stdout.readline())["seq"] for _ in range(2)]
        assert seqs == [2, 3]
    finally:
        proc.kill()
        proc.wait()


def test_events_tail_without_database_says_so(tmp_path: Path) -> None:
    config, _ = door_site(tmp_path, {"r1": "/dev/null"})
    result = edgectl("events", "tail", "--config", str(config))
    assert result.returncode == 1
    assert "cannot read journal" in result.stderr


def test_doctor_reports_missing_port_and_unreachable_broker(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    config, _ = door_site(
        tmp_path,
        {"ok": pty_pair.host, "gone": str(tmp_path / "ttyUSB7")},
        mqtt={"enabled": True, "host": "127.0.0.1", "port": 1},
    )
    started = time.monotonic()
    result = edgectl("doctor", "--config", str(config))
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    out = result.stdout
    assert "ttyUSB7 does not exist" in out
    assert "serial ok" in out and "database" in out and "clock" in out
    assert "127.0.0.1:1 unreachable" in out


def test_doctor_on_invalid_config_fails_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "x"\ncolour = "red"\n')
    result = edgectl("doctor", "--config", str(bad))
    assert result.returncode == 1
    assert "site.colour" in result.stdout


def test_events_tail_shows_site_local_time_with_offset(tmp_path: Path) -> None:
    config, cfg = door_site(tmp_path, {"r1": "/dev/null"})
    asyncio.run(_append(cfg.store.path, 1))
    result = edgectl("events", "tail", "--config", str(config))
    assert result.returncode == 0, result.stderr
    stamp = " ".join(result.stdout.split()[1:3])
    at = datetime.fromisoformat(stamp)
    assert at.utcoffset() == datetime.now(cfg.site.zone).utcoffset()


def test_events_tail_unknown_kind_is_an_error_listing_the_kinds(tmp_path: Path) -> None:
    config, cfg = door_site(tmp_path, {"r1": "/dev/null"})
    asyncio.run(_append(cfg.store.path, 1))
    result = edgectl("events", "tail", "--config", str(config), "--kind", "acess_decided")
    assert result.returncode == 2
    assert "unknown event kind acess_decided" in result.stderr
    assert "access_decided" in result.stderr and "bad_read" in result.stderr


async def test_doctor_shows_the_running_daemons_driver_health(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    config, cfg = door_site(tmp_path, {"ok": pty_pair.host, "gone": str(tmp_path / "ttyUSB7")})
    async with running(cfg) as (_, events):
        await wait_for(events, "device_online")  # reader "ok" has opened its port
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edgectl",
            "doctor",
            "--config",
            str(config),
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
            stdout=asyncio.subprocess.PIPE,
        )
        out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert "daemon" in out and "running" in out
    assert "driver ok" in out and pty_pair.host in out  # the reader driver's own health
    assert "driver gone" in out and "cannot open" in out and "restart(s)" in out
    assert "watchdog" in out and "kept alive" in out
