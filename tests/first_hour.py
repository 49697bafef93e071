"""The installer's first hour (README "Your first hour"), as one timed flow: a reference
hub, the simulated devices, ``init`` -> ``doctor`` -> daemon -> ``levels add`` ->
``people add`` -> ``cards enroll`` with a card presented at the simulated reader -> the
gate opens -> ``events tail`` shows it -> the event is at the hub.

Used by tests/test_wheel.py (from the installed wheel) and bench/first_hour.py. Each step
waits on what it observes (a line of output, a file, an event), never on a bare sleep.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.sim_procs import Edgectl, running, sim_devices, wait_path

SITE = "riverside"
CARD = "12:1001"


@dataclass
class FirstHour:
    seconds: float = 0.0
    transcript: list[tuple[str, str, float]] = field(default_factory=list)  # command, output, s
    doctor_failures: list[str] = field(default_factory=list)


def subcommand(command: str) -> str:
    """``edgectl hub sites add riverside --db x`` -> ``edgectl hub sites add``: the words
    before the first option, without arguments that are paths or site data."""
    words = []
    for word in command.split():
        if word.startswith("-"):
            break
        words.append(word)
    return " ".join(words[:3]) if len(words) > 3 else " ".join(words)


def readme_first_hour(readme: Path) -> str:
    """The README's "Your first hour" section."""
    text = readme.read_text()
    start = text.index("## Your first hour")
    return text[start : text.index("\n## ", start + 1)]


def first_hour(edgectl: Edgectl, work: Path, deadline_s: float = 60) -> FirstHour:
    """Run the flow in ``work``; raise AssertionError naming the step that did not happen."""
    result = FirstHour()
    hub_db, conf, sim = work / "hub.db", work / "edgectl.toml", work / "sim"

    def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        t0 = time.monotonic()
        out = edgectl(*args, timeout=deadline_s)
        took = time.monotonic() - t0
        result.transcript.append(("edgectl " + " ".join(args), out.stdout + out.stderr, took))
        assert not ok or out.returncode == 0, f"edgectl {' '.join(args)}: {out.stderr}"
        assert "Traceback" not in out.stderr, out.stderr
        return out

    started = time.monotonic()
    token = cli("hub", "sites", "add", SITE, "--db", str(hub_db)).stdout.strip()
    port = free_port()
    hub_args = ("hub", "serve", "--db", str(hub_db), "--port", str(port))
    with (
        running(*hub_args, edgectl=edgectl) as hub,
        sim_devices(sim, edgectl) as _,
    ):
        hub.expect("hub listening")
        cli(
            "init", "--non-interactive", "--config", str(conf), "--site-id", SITE,
            "--timezone", "Asia/Shanghai", "--store", str(work / "edgectl.db"),
            "--control-socket", str(work / "control.sock"),
            "--bus-port", str(sim / "bus-host"), "--reader-port", str(sim / "reader-host"),
            "--units", "1-4", "--hub-url", f"http://127.0.0.1:{port}", "--hub-token", token,
        )  # fmt: skip
        doctor = cli("doctor", "--config", str(conf), ok=False)
        for line in doctor.stdout.splitlines():
            if "│ FAIL" in line:
                result.doctor_failures.append(line.split("│")[1].strip())
        assert "unit 1 answered: closed" in doctor.stdout, doctor.stdout
        assert "token" in doctor.stdout and "accepted" in doctor.stdout, doctor.stdout
        c = ("-c", str(conf))
        with running("run", *c, edgectl=edgectl) as daemon:
            wait_path(work / "control.sock")
            cli("levels", "add", "residents", "--target", "gate-1", "--name", "Residents", *c)
            cli("people", "add", "res-12-3", "--name", "Chen Wei", "--level", "residents", *c)
            enroll_args = ("cards", "enroll", "--reader", "reader-1", "--person", "res-12-3")
            with running(*enroll_args, *c, edgectl=edgectl) as enroll:
                enroll.expect("present a card at reader-1 now")
                cli("sim", "present", "--card", CARD, "--dir", str(sim))
                assert enroll.wait(deadline_s) == 0, enroll.seen
            command = "edgectl " + " ".join((*enroll_args, "-c", str(conf)))
            result.transcript.append((command, "\n".join(enroll.seen), 0.0))
            with running("events", "tail", "-f", "-k", "gate_state", *c, edgectl=edgectl) as tail:
                cli("sim", "present", "--card", CARD, "--dir", str(sim))
                tail.expect("state=open", deadline_s)
            status = cli("gate", "status", "gate-1", *c)
            assert "open" in status.stdout, status.stdout
            events = cli("events", "tail", "-n", "6", *c)
            assert "granted=True reason=granted credential=h10301:12:1001" in events.stdout
            assert "+08:00" in events.stdout
            _at_hub(cli, hub_db, deadline_s)
            daemon.stop()
            assert "Traceback" not in "\n".join(daemon.seen), daemon.seen
    result.seconds = time.monotonic() - started
    return result


Cli = Callable[..., subprocess.CompletedProcess[str]]


def _granted(events: list[dict[str, Any]]) -> bool:
    return any(e["kind"] == "access_decided" and e["body"]["granted"] for e in events)


def _at_hub(cli: Cli, hub_db: Path, timeout: float) -> list[dict[str, Any]]:
    """Events the hub holds for the site, polled until a granted access has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        out = cli("hub", "events", "--db", str(hub_db), "--site", SITE, "--limit", "100")
        events: list[dict[str, Any]] = json.loads(out.stdout)
        if _granted(events):
            return events
        assert time.monotonic() < deadline, "the granted access never reached the hub"
        time.sleep(0.5)
