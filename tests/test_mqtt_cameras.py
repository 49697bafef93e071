"""Camera commands from operators over a real mosquitto into the daemon and the simulated dome."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edgectl.store.evidence import EvidenceStore
from edgectl.store.journal import read_entries
from tests.camera_rig import until
from tests.conftest import SecureBroker
from tests.mqtt_console import console, online, running_site

CAM = "gate-cam"


async def test_operators_take_snapshots_and_steer_the_dome(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with (
        running_site(tmp_path, secure_broker, cameras=1) as site,
        console(secure_broker, "gina") as gina,
        console(secure_broker, "alice") as alice,
        console(secure_broker, "victor") as victor,
    ):
        await online(site.daemon, CAM, timeout=10)
        dome = site.compound.cameras[0]
        reply = await gina.request("camera/snapshot", {"target": CAM})
        assert reply["status"] == "ok", reply
        evidence_id = reply["result"]["evidence_id"]
        store = EvidenceStore(tmp_path / "evidence", 10**9, 10**7)
        assert (store.get(evidence_id) or b"")[:2] == b"\xff\xd8"  # stored before the reply

        reply = await gina.request(
            "camera/ptz_move", {"target": CAM, "pan": 0.4, "tilt": 0.0, "seconds": 30}
        )
        assert reply["status"] == "ok" and reply["result"]["stops_after_s"] == 10.0
        assert dome.ptz.velocity == (0.4, 0.0, 0.0)
        assert (await gina.request("camera/ptz_stop", {"target": CAM}))["status"] == "ok"
        assert dome.ptz.velocity is None
        reply = await gina.request("camera/goto_preset", {"target": CAM, "preset": "2"})
        assert reply["status"] == "ok" and dome.ptz.moves[-1] == "goto:2"

        refused = await gina.request("camera/set_preset", {"target": CAM, "name": "x"})
        assert (refused["status"], refused["code"]) == ("error", "forbidden")
        reply = await alice.request("camera/set_preset", {"target": CAM, "name": "bay 3"})
        assert reply["status"] == "ok"
        listed = await victor.request("camera/presets", {"target": CAM})
        assert {"token": reply["result"]["preset"], "name": "bay 3"} in listed["result"]["presets"]
        refused = await victor.request("camera/ptz_move", {"target": CAM, "pan": 1, "tilt": 0})
        assert refused["code"] == "forbidden"
        bad = await gina.request("camera/ptz_move", {"target": CAM, "pan": 3, "tilt": 0})
        assert bad["status"] == "error" and "pan" in bad["message"]
        unknown = await gina.request("camera/snapshot", {"target": "main-gate"})
        assert unknown["code"] == "unknown_device"

        dome.snapshot_fault = "not_jpeg"
        failed = await gina.request("camera/snapshot", {"target": CAM})
        assert failed["code"] == "device_error" and "not_jpeg" in failed["message"]
        path = site.compound.config.store.path

        def journaled() -> list[tuple[str, str]]:
            conn = sqlite3.connect(path)
            try:
                rows = read_entries(conn, 0, 10000, ("operator_command", "evidence_captured"))
            finally:
                conn.close()
            return [(r.kind, r.body.get("command") or r.body.get("evidence_id")) for r in rows]

        await until(lambda: ("evidence_captured", evidence_id) in journaled())
        assert ("operator_command", "camera/snapshot") in journaled()
