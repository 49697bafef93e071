"""``readers watch`` and ``cards enroll`` against the simulated reader: straight from its
port when no daemon runs, and through the daemon's control socket when one does."""

from __future__ import annotations

import json
import os
from pathlib import Path

from drivers.wiegand import codec
from drivers.wiegand.line import encode_frame
from tests.cli_helpers import edgectl
from tests.sim_procs import running, sim_devices, wait_path

READER = "main-gate-in"


def write_line(directory: Path, line: bytes) -> None:
    """What the converter sends, written on the simulated reader's device side."""
    fd = os.open(directory / "reader-dev", os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def present(directory: Path, *args: str) -> None:
    out = edgectl("sim", "present", *args, "--dir", str(directory))
    assert out.returncode == 0, out.stdout + out.stderr


def test_watch_without_daemon_shows_cards_bad_reads_as_text_and_hides_keys(
    tmp_path: Path,
) -> None:
    with sim_devices(tmp_path) as conf:
        with running("readers", "watch", READER, "-n", "3", "--json", "-c", str(conf)) as watch:
            assert "reading" in watch.expect("directly") and str(tmp_path) in watch.seen[-1]
            watch.expect(f"listening at {READER}")
            present(tmp_path, "--pin", "975310")
            good = codec.encode(codec.builtin_formats()["h10301"], 12, 1001)
            damaged = encode_frame(good ^ (1 << 5), 26)
            write_line(tmp_path, damaged)
            present(tmp_path, "--card", "12:1001")
            assert watch.wait() == 0
    reads = [json.loads(line) for line in watch.seen if line.startswith("{")]
    assert [r["kind"] for r in reads] == ["keypad", "bad", "card"]
    assert reads[1]["reason"] == "parity"
    assert reads[1]["line"] == damaged.rstrip(b"\r\n").decode()  # text, not hex of ASCII
    assert {k: reads[2][k] for k in ("format", "facility", "number", "bits")} == {
        "format": "h10301", "facility": 12, "number": 1001, "bits": 26,
    }  # fmt: skip
    assert "975310" not in "\n".join(watch.seen)


def test_enroll_without_daemon_skips_pins_and_names_the_holder(tmp_path: Path) -> None:
    with sim_devices(tmp_path) as conf:
        c = str(conf)
        assert edgectl("levels", "add", "residents", "-t", "main-gate", "-c", c).returncode == 0
        assert edgectl("people", "add", "res-1", "-c", c).returncode == 0
        assert edgectl("people", "add", "res-2", "-c", c).returncode == 0
        args = ("cards", "enroll", "-r", READER, "-p", "res-1", "-l", "residents", "-c", c)
        with running(*args) as enroll:
            enroll.expect(f"present a card at {READER} now")
            present(tmp_path, "--pin", "4321")
            enroll.expect("PINs are never enrolled")
            present(tmp_path, "--card", "12:1001")
            assert enroll.wait() == 0, enroll.seen
        assert "enrolled card 12:1001 (h10301, 26 bits) for res-1" in enroll.seen
        shown = json.loads(edgectl("people", "show", "res-1", "--json", "-c", c).stdout)
        assert [x["credential"] for x in shown["credentials"]] == ["card 12:1001"]
        assert shown["levels"] == ["residents"]

        with running("cards", "enroll", "-r", READER, "-p", "res-2", "-c", c) as again:
            again.expect("now")
            present(tmp_path, "--card", "12:1001")
            assert again.wait() == 1
        assert any("card 12:1001 is already enrolled to res-1" in x for x in again.seen)

        late = edgectl("cards", "enroll", "-r", READER, "-p", "res-2", "--timeout", "1", "-c", c)
        assert (
            late.returncode == 1 and "no card presented at main-gate-in within 1 s" in late.stderr
        )
        nobody = edgectl("cards", "enroll", "-r", READER, "-p", "res-9", "-c", c)
        assert nobody.returncode == 1 and "no person 'res-9'" in nobody.stderr
        noreader = edgectl("cards", "enroll", "-r", "r-9", "-p", "res-1", "-c", c)
        assert noreader.returncode == 2 and "configured: main-gate-in" in noreader.stderr


def test_with_the_daemon_running_reads_come_through_it(tmp_path: Path) -> None:
    with sim_devices(tmp_path) as conf, running("run", "-c", str(conf)):
        c = str(conf)
        wait_path(tmp_path / "control.sock")
        assert edgectl("levels", "add", "residents", "-t", "main-gate", "-c", c).returncode == 0
        assert edgectl("people", "add", "res-1", "-l", "residents", "-c", c).returncode == 0
        with running("readers", "watch", "-n", "1", "-c", c) as watch:
            watch.expect("reading through the running daemon")
            watch.expect("listening at *")
            present(tmp_path, "--card", "12:77")
            assert watch.wait() == 0
        assert any(f"{READER} card h10301 facility 12 number 77 (26 bits)" in x for x in watch.seen)
        with running("cards", "enroll", "-r", READER, "-p", "res-1", "-c", c) as enroll:
            enroll.expect("present a card at")
            present(tmp_path, "--card", "12:1001")
            assert enroll.wait() == 0, enroll.seen
        present(tmp_path, "--card", "12:1001")  # the daemon now lets it through
        granted: list[str] = []
        with running("events", "tail", "-f", "-k", "access_decided", "-c", c) as tail:
            granted.append(tail.expect("granted=True"))
        assert "h10301:12:1001" in granted[0]
