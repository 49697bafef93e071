"""What journald shows: device offline/online and driver restarts are logged (not only
journaled); a bad read is logged with its line as text, a keypad line without its keys."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from drivers.sim.ptys import PtyPair
from tests.site import door_site
from tests.test_daemon_reader import wait_for, with_reader


async def test_device_changes_restarts_and_bad_reads_are_logged(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"good": pty_pair.host, "gone": str(tmp_path / "ttyUSB9")})
    with capture_logs() as logs:
        async with with_reader(cfg, pty_pair.device) as (_daemon, events, reader):
            await wait_for(events, "driver_restarted")
            reader.write(b"K4321#*00\r\n")  # keypad digits with a wrong checksum
            keypad = await wait_for(events, "bad_read")
            reader.write(b"W26:zz*00\r\n")
            noise = await wait_for(events, "bad_read")
    assert keypad.body["line"] == "K<8 bytes hidden>" and noise.body["line"] == "W26:zz*00"
    seen = {(e["event"], e.get("device") or e.get("task") or e.get("reader")) for e in logs}
    assert {
        ("device_online", "good"),
        ("device_offline", "gone"),
        ("task_restarting", "gone"),
        ("bad_read", "good"),
    } <= seen
    offline = next(e for e in logs if e["event"] == "device_offline")
    assert "ttyUSB9" in offline["error"] and offline["log_level"] == "warning"
    bad = [e for e in logs if e["event"] == "bad_read"]
    assert [e["line"] for e in bad] == ["K<8 bytes hidden>", "W26:zz*00"]
    assert "4321" not in repr(logs)
