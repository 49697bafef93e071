"""A full disk at runtime, on a real small filesystem: nothing is lost, the storage_full alarm
counts every event that waited, and sync carries on once there is room again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.sim.ptys import PtyPair
from drivers.sim.wiegand_converter import SimWiegandConverter
from sync import metrics as sync_metrics
from sync.hub.store import HubStore
from tests.daemon_helpers import running, wait_for
from tests.mounts import fill, tmpfs
from tests.site import door_site
from tests.sync_support import until
from tests.test_daemon_reader import journal

CARDS = 30


def _failures() -> float:
    return sum(
        sample.value
        for metric in sync_metrics.FAILURES.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def test_full_disk_loses_nothing_counts_the_queue_and_sync_survives(
    tmp_path: Path, pty_pair: PtyPair, ref_hub: Any
) -> None:
    await ref_hub.stop()  # the hub is down at first: every sync round fails and is recorded
    with tmpfs(tmp_path / "fs", "3m") as fs:
        hub = {
            "enabled": True,
            "url": ref_hub.url,
            "token": ref_hub.token,
            "interval_s": 0.1,
            "timeout_s": 1.0,
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.1,
        }
        _, cfg = door_site(
            tmp_path,
            {"r1": pty_pair.host},
            site={"id": ref_hub.site},
            store={"path": str(fs / "edge.db")},
            hub=hub,
        )
        async with running(cfg) as (daemon, events):
            reader = SimWiegandConverter(pty_pair.device)
            try:
                await wait_for(events, "device_online")
                filler = fill(fs)
                for n in range(CARDS):
                    reader.present("h10301", 1, n)
                await until(lambda: daemon.journal.storage_full)
                failed = _failures()
                await until(lambda: _failures() >= failed + 3)  # sync keeps trying while full
                filler.unlink()
                alarm = await wait_for(events, "storage_full", 20)
                assert alarm.body["pending_events"] >= CARDS
                await ref_hub.start()
                head = journal(cfg.store.path)[-1].seq
                await until(lambda: HubStore(ref_hub.db).acked(ref_hub.site) >= head, 30)
            finally:
                reader.close()
        decided = [e for e in journal(cfg.store.path) if e.kind == "access_decided"]
    assert [e.body["credential"] for e in decided] == [f"h10301:1:{n}" for n in range(CARDS)]
