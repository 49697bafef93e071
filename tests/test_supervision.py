"""Supervision of long-running work: a crash is journaled as task_failed, counted and
restarted with backoff; the systemd watchdog stops when a critical task stays dead; a
daemon whose start fails half way leaves nothing running."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from drivers.wiegand.reader import WiegandReaderDriver
from edgectl.config import Reader
from edgectl.daemon import Daemon
from edgectl.domain import Event, TaskFailed
from edgectl.sdnotify import Notifier
from edgectl.store import kv
from edgectl.store.db import connect
from edgectl.store.journal import Journal, read_entries
from edgectl.store.retention import Retention
from edgectl.store.worker import DbWorker
from edgectl.supervisor import Supervisor
from sync.client import SyncClient
from tests.conftest import RefHub, free_port, site_config
from tests.site import door_site
from tests.sync_support import make_event, until


def restarts(task: str) -> float:
    return REGISTRY.get_sample_value("edgectl_task_restarts_total", {"task": task}) or 0.0


async def close_underneath(worker: DbWorker) -> None:
    """Close a DB worker's connection on its own thread, as a failing disk or a bug would."""
    await asyncio.wrap_future(worker._executor.submit(worker.conn.close))


def task_failures(path: Path, task: str) -> list[dict[str, object]]:
    conn = connect(path)
    try:
        return [
            e.body for e in read_entries(conn, 0, 100_000, ("task_failed",)) if e.source == task
        ]
    finally:
        conn.close()


async def test_sync_whose_connection_dies_is_restarted_and_journaled(
    tmp_path: Path, ref_hub: RefHub
) -> None:
    cfg = site_config(tmp_path, ref_hub.url, ref_hub.token, interval_s=0.2)
    journal = Journal(cfg.store.path)
    supervisor = Supervisor(journal.append, initial_backoff_s=0.05, max_backoff_s=0.2)
    client = SyncClient(cfg, cfg.store.path, journal=journal)
    conn = connect(cfg.store.path)
    before = restarts("sync")
    try:
        supervisor.spawn("sync", client.run)
        await asyncio.gather(*(journal.append(make_event(i)) for i in range(10)))
        await until(lambda: kv.acked_seq(conn) == 10)
        assert client._db_worker is not None
        await close_underneath(client._db_worker)
        await asyncio.gather(*(journal.append(make_event(i)) for i in range(10, 20)))
        # restarted with a fresh connection: everything, task_failed included, reaches the hub
        await until(lambda: task_failures(cfg.store.path, "sync"))
        failure = task_failures(cfg.store.path, "sync")[0]
        assert "ProgrammingError" in str(failure["error"]) and "closed" in str(failure["error"])
        assert failure["attempt"] == 1 and failure["critical"] is False
        head = conn.execute("SELECT max(seq) FROM journal").fetchone()[0]
        await until(lambda: kv.acked_seq(conn) >= head)
        assert restarts("sync") == before + 1
        assert not supervisor.tasks["sync"].done()
    finally:
        await supervisor.stop()
        await journal.close()
        conn.close()


async def test_retention_that_raises_is_restarted_and_journaled(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "edge.db")
    supervisor = Supervisor(journal.append, initial_backoff_s=0.05, max_backoff_s=0.2)
    retention = Retention(journal, budget_mb=100, interval_s=0.05)
    before = restarts("retention")
    try:
        supervisor.spawn("retention", retention.run)
        await until(lambda: retention._db is not None and retention.last is not None)
        assert retention._db is not None
        await close_underneath(retention._db)
        await until(lambda: task_failures(journal.path, "retention"))
        failure = task_failures(journal.path, "retention")[0]
        assert "ProgrammingError" in str(failure["error"])
        assert "edgectl/store/" in str(failure["where"])  # the frame that raised
        checked = retention.last
        await until(lambda: retention.last is not checked)  # running again, on a new connection
        assert restarts("retention") == before + 1
    finally:
        await supervisor.stop()
        await journal.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


async def next_message(sock: socket.socket, timeout: float = 5.0) -> str:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        return (await loop.sock_recv(sock, 4096)).decode()


async def test_watchdog_stops_while_a_critical_task_stays_dead_and_resumes(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "100000"})
    events: list[Event] = []
    supervisor = Supervisor(
        events.append,
        initial_backoff_s=0.02,
        max_backoff_s=0.05,
        stable_after_s=0.3,
        critical_failures=3,
    )
    port = tmp_path / "ttyReader"  # the converter is unplugged: the driver cannot open it
    driver = WiegandReaderDriver(Reader(id="r1", port=str(port), door="d1"))
    watchdog = asyncio.create_task(notifier.watchdog(supervisor.problems))
    master, slave = os.openpty()
    try:
        assert await next_message(notify_socket) == "WATCHDOG=1"
        supervisor.start(driver, critical=True)
        message = await next_message(notify_socket)
        while message == "WATCHDOG=1":
            message = await next_message(notify_socket)
        assert message == "STATUS=unhealthy: r1 stays down (3+ failures in a row)", message
        assert sum(isinstance(e, TaskFailed) and e.critical for e in events) >= 3
        # no keep-alive while it stays dead: 8 watchdog half-periods pass without one
        with pytest.raises(TimeoutError):
            while True:
                assert await next_message(notify_socket, timeout=0.4) != "WATCHDOG=1"
        port.symlink_to(os.ttyname(slave))  # plugged back in: one stable run restores it
        assert await next_message(notify_socket) == "WATCHDOG=1"
        assert supervisor.problems() == []
    finally:
        watchdog.cancel()
        await supervisor.stop()
        os.close(master)
        os.close(slave)


async def test_a_start_that_fails_half_way_leaves_nothing_running(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", free_port()))
    busy.listen()
    metrics_port = busy.getsockname()[1]
    daemon_section = {
        "control_socket": str(tmp_path / "control.sock"),
        "metrics_port": metrics_port,
    }
    _, cfg = door_site(tmp_path, {}, daemon=daemon_section)
    threads = set(threading.enumerate())
    daemon = Daemon(cfg)
    try:
        with pytest.raises(OSError):
            await daemon.run()  # the metrics port is taken: start() fails after the journal
    finally:
        busy.close()
    assert not daemon.journal.writer_alive
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == [], others
    assert not Path(cfg.daemon.control_socket).exists()
    ours = {t for t in set(threading.enumerate()) - threads if not t.name.startswith("asyncio")}
    assert not ours, ours  # the journal writer and the DB workers have ended
