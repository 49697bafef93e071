"""A damaged database file: the daemon refuses it, doctor names it, and ``edgectl db recover``
salvages what can be read, keeping the journal's seq and the kv identity."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from drivers.sim.ptys import PtyPair
from drivers.sim.wiegand_converter import SimWiegandConverter
from edgectl.store.db import open_store
from edgectl.store.recover import quick_check
from tests.daemon_helpers import running, wait_for
from tests.site import door_site
from tests.test_ownership import edgectl

EVENTS = 3000


def _fill(db: Path) -> None:
    with closing(open_store(db)) as conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO journal (at, kind, cls, source, body, schema_version) "
            "VALUES ('2026-01-01T00:00:00+00:00', 'gate_state', 'device', 'g1', ?, 1)",
            [(json.dumps({"state": "open", "n": i, "pad": "x" * 150}),) for i in range(EVENTS)],
        )
        conn.execute("INSERT INTO kv VALUES ('sync.acked_seq', '1200'), ('site.epoch', 'e-42')")
        conn.execute("INSERT INTO people (id, name) VALUES ('p1', 'Wang Fang')")
        conn.execute("COMMIT")


def _damage_a_journal_page(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        pages = [
            r[0]
            for r in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'journal' AND pagetype = 'leaf' ORDER BY pageno"
            )
        ]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    assert not Path(f"{db}-wal").exists()  # all of it is in the main file now
    with open(db, "r+b") as f:
        f.seek((pages[len(pages) // 2] - 1) * size)
        f.write(os.urandom(size))


async def test_damaged_db_is_refused_named_by_doctor_and_recovered(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    path, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    db = Path(cfg.store.path)
    _fill(db)
    with closing(sqlite3.connect(db)) as conn:
        epoch = conn.execute("SELECT value FROM kv WHERE key = 'journal.epoch'").fetchone()[0]
    _damage_a_journal_page(db)

    code, text = await edgectl("run", "--config", str(path))
    assert code == 1
    assert "is damaged" in text and "edgectl db recover" in text
    code, text = await edgectl("doctor", "--config", str(path))
    assert code == 1
    assert "is damaged" in text and "edgectl db recover" in text

    code, text = await edgectl("db", "recover", "--config", str(path))
    assert code == 0, text
    assert f"journal seq continues after {EVENTS}" in text
    with closing(sqlite3.connect(db)) as conn:
        assert quick_check(conn) == []
        kept = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
        assert EVENTS - 100 < kept < EVENTS  # one page of rows lost, the rest kept
        assert dict(conn.execute("SELECT key, value FROM kv").fetchall()) == {
            "sync.acked_seq": "1200",
            "site.epoch": "e-42",
            "journal.epoch": epoch,  # the same journal: the hub takes its batches on
        }
        assert conn.execute("SELECT name FROM people").fetchall() == [("Wang Fang",)]
    assert list(tmp_path.glob("edgectl.db.damaged-*"))

    async with running(cfg) as (_daemon, events):
        reader = SimWiegandConverter(pty_pair.device)
        try:
            await wait_for(events, "device_online")
            reader.present("h10301", 1, 1)
            decided = await wait_for(events, "access_decided")
            assert decided.seq > EVENTS  # seq never goes back
            code, text = await edgectl("db", "recover", "--config", str(path))
            assert code == 1
            assert f"in use by process {os.getpid()}" in text
        finally:
            reader.close()
