"""Access-path benchmark: last byte of a card frame on the reader pty -> gate coil written.

Cards are 35-bit Corporate 1000 (20-bit numbers, so 100,000 distinct cards fit). The simulated compound (a serial Wiegand converter and a pymodbus CAME ZLB30 gate, each
on a socat pty pair) runs in this process; the daemon runs as a separate `edgectl run`
process, as on a site, against a store holding ``--credentials`` cards. For each of
``--presentations`` swipes of a random valid card, the time from the frame's last byte
being written to the gate's open coil being written (the simulated gate's own monotonic
timestamp, same clock) is recorded, while the daemon keeps polling the gate.

    python bench/access_path.py [--quick] [--json] [--credentials N] [--presentations N]
                                [--write-lock SECONDS]

``--write-lock SECONDS`` then holds the store's write lock from another process
(``tests/lock_holder.py``) for SECONDS while swiping on, and reports ``p99_ms_locked`` and
``lost_decisions``: gate opens (every swipe is a valid card) minus granted
``access_decided`` events in the journal once the lock is gone and the journal caught up.

``--runs`` repeats the whole measurement with a fresh daemon (medians are reported, and
the worst run's p99). ``--json`` prints one JSON object as the last line.

``first_decision_s_after_flood``: with MQTT on and 10,000 operator commands in the journal
(all within the replay window, as after a flood), the time from starting the daemon
process to the first card decided (gate coil written), median of ``--runs`` starts; and
``first_decision_s_empty_journal``, the same start with nothing in the journal, for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import machine, report  # noqa: E402
from edgectl.domain import OperatorCommand  # noqa: E402
from edgectl.simulation import Compound, simulated_compound, with_cameras  # noqa: E402
from edgectl.site.actor import SYSTEM  # noqa: E402
from edgectl.site.service import SiteService  # noqa: E402
from edgectl.store.journal import Journal  # noqa: E402
from tests.access_site import write_cards_csv  # noqa: E402

FACILITY = 10
LIMIT_P99_MS = 20.0
FLOOD_COMMANDS = 10_000


def seed(compound: Compound, count: int) -> None:
    site = SiteService.open(compound.config)
    site.define_level("all", ["*"], actor=SYSTEM)
    path = write_cards_csv(
        compound.directory / "cards.csv", count, FACILITY, level="all", fmt="c1000"
    )
    result = site.import_cards(path, actor=SYSTEM)
    assert not result.errors and result.imported == count, result.errors[:3]
    site.close()
    path.unlink()


def start_daemon(compound: Compound) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgectl", "run", "--config", str(compound.config_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.DEVNULL,
    )


def opens(compound: Compound) -> list[float]:
    return [t for t, name in compound.gates.gates[1].model.commands if name == "open"]


async def wait_ready(compound: Compound, proc: subprocess.Popen[bytes]) -> None:
    """Until the daemon decides a card end to end (its drivers are up)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode}")
        before = len(opens(compound))
        compound.reader.present("c1000", FACILITY, 1)
        await asyncio.sleep(0.3)
        if len(opens(compound)) > before:
            return
    raise TimeoutError("daemon never opened the gate")


async def swipe(compound: Compound, rng: random.Random, credentials: int) -> float:
    """One swipe of a random valid card; ms from its last byte to the gate's open coil."""
    before = len(opens(compound))
    compound.reader.present("c1000", FACILITY, rng.randint(1, credentials))
    written = time.monotonic()  # os.write returned: the last byte is on the pty
    async with asyncio.timeout(2):
        while len(opens(compound)) == before:
            await asyncio.sleep(0.0002)
    await asyncio.sleep(rng.uniform(0.005, 0.03))  # let polls interleave
    return (opens(compound)[-1] - written) * 1000


def granted_in_journal(path: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT count(*) FROM journal WHERE kind = 'access_decided' "
            "AND json_extract(body, '$.granted')"
        ).fetchone()
        return int(row[0])
    finally:
        conn.close()


async def locked_phase(
    compound: Compound, rng: random.Random, credentials: int, seconds: float
) -> tuple[list[float], int]:
    """Swipe while another process holds the write lock; (latencies, lost decisions)."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.lock_holder",
        str(compound.config.store.path),
        str(seconds),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    assert holder.stdin is not None and holder.stdout is not None
    assert (await holder.stdout.readline()).strip() == b"locked"
    held = time.monotonic()
    latencies = []
    while time.monotonic() - held < seconds - 0.5:
        latencies.append(await swipe(compound, rng, credentials))
    holder.stdin.write(b"release\n")
    await holder.stdin.drain()
    if await holder.wait() != 0:
        raise RuntimeError("the lock holder failed")
    deadline = time.monotonic() + 60
    while granted_in_journal(str(compound.config.store.path)) < len(opens(compound)):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    return latencies, len(opens(compound)) - granted_in_journal(str(compound.config.store.path))


def percentiles(latencies: list[float], suffix: str = "") -> dict[str, float]:
    latencies = sorted(latencies)
    return {
        f"p50_ms{suffix}": round(statistics.median(latencies), 3),
        f"p99_ms{suffix}": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 3),
        f"max_ms{suffix}": round(latencies[-1], 3),
    }


async def cameras_online(store: str, count: int) -> None:
    """Until the daemon has connected ``count`` cameras (their first health checks run)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            (n,) = conn.execute(
                "SELECT COUNT(DISTINCT source) FROM journal WHERE kind = 'camera_identified'"
            ).fetchone()
        except sqlite3.OperationalError:
            n = 0
        finally:
            conn.close()
        if n >= count:
            await asyncio.sleep(3)  # past the connect burst: health checks in steady state
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the daemon did not connect {count} cameras")


async def measure(
    credentials: int,
    presentations: int,
    write_lock: float,
    camera_ports: tuple[int, ...] = (),
    keep: Path | None = None,
) -> dict[str, float]:
    """Cameras already serving on ``camera_ports`` join the compound (bench/cameras.py runs
    them in another process); the journal is copied to ``keep`` if given."""
    with tempfile.TemporaryDirectory(prefix="edgectl-bench-") as tmp:
        overrides = with_cameras(Path(tmp), None, list(camera_ports)) if camera_ports else None
        async with simulated_compound(Path(tmp), overrides) as compound:
            seed(compound, credentials)
            proc = start_daemon(compound)
            try:
                await wait_ready(compound, proc)
                if camera_ports:
                    await cameras_online(str(compound.config.store.path), len(camera_ports))
                rng = random.Random(1)
                latencies = [await swipe(compound, rng, credentials) for _ in range(presentations)]
                figures = percentiles(latencies)
                if write_lock:
                    locked, lost = await locked_phase(compound, rng, credentials, write_lock)
                    figures |= percentiles(locked, "_locked")
                    figures |= {"presentations_locked": len(locked), "lost_decisions": lost}
            finally:
                proc.terminate()
                proc.wait(10)
                if keep is not None:  # also when a swipe failed: the journal says why
                    for suffix in ("", "-wal"):
                        store = f"{compound.config.store.path}{suffix}"
                        if Path(store).exists():
                            shutil.copy(store, f"{keep}{suffix}")
    return figures | {
        "credentials": credentials,
        "presentations": presentations,
        "limit_p99_ms": LIMIT_P99_MS,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _journal_flood(path: str, n: int) -> None:
    """``n`` operator commands, all within the replay window, as a flood leaves them."""
    journal = Journal(path)
    at = datetime.now(UTC) - timedelta(seconds=5)
    try:
        await asyncio.gather(
            *(
                journal.append(
                    OperatorCommand(
                        source="ops", at=at + timedelta(microseconds=i), interface="mqtt",
                        command="gate/open", target="main-gate", outcome="error",
                        error="forbidden: flood", request=f"correlation data {i:032x}",
                    )
                )
                for i in range(n)
            )
        )  # fmt: skip
    finally:
        await journal.close()


async def first_decision_after_flood(commands: int) -> float:
    """Seconds from starting ``edgectl run`` to the first card's gate coil."""
    with tempfile.TemporaryDirectory(prefix="edgectl-bench-") as tmp:
        port = _free_port()
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        broker = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
        overrides = {
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port,
                     "command_window_s": 900.0},
            "operators": [{"id": "ops", "role": "operator"}],
        }  # fmt: skip
        try:
            async with simulated_compound(Path(tmp), overrides) as compound:
                seed(compound, 1000)
                await _journal_flood(compound.config.store.path, commands)
                started = time.monotonic()
                proc = start_daemon(compound)
                try:
                    async with asyncio.timeout(60):
                        while not opens(compound):
                            compound.reader.present("c1000", FACILITY, 1)
                            await asyncio.sleep(0.02)
                    return opens(compound)[0] - started
                finally:
                    proc.terminate()
                    proc.wait(10)
        finally:
            broker.terminate()
            broker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 cards, 200 swipes")
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    parser.add_argument("--credentials", type=int)
    parser.add_argument("--presentations", type=int)
    parser.add_argument("--runs", type=int, help="independent runs (fresh daemon each)")
    parser.add_argument(
        "--write-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="then swipe on while another process holds the write lock this long",
    )
    args = parser.parse_args()
    credentials = args.credentials or (10_000 if args.quick else 100_000)
    presentations = args.presentations or (200 if args.quick else 1000)
    runs = [
        asyncio.run(measure(credentials, presentations, args.write_lock))
        for _ in range(args.runs or (1 if args.quick else 3))
    ]
    figures: dict[str, object] = dict(runs[0])
    for key in ("p50_ms", "p99_ms", "max_ms", "p50_ms_locked", "p99_ms_locked", "max_ms_locked"):
        if key in runs[0]:
            figures[key] = statistics.median(r[key] for r in runs)
    if args.write_lock:
        figures["lost_decisions"] = sum(r["lost_decisions"] for r in runs)
        figures["p99_ms_locked_worst_run"] = max(r["p99_ms_locked"] for r in runs)
    figures["p99_ms_worst_run"] = max(r["p99_ms"] for r in runs)
    figures["runs"] = len(runs)
    starts = args.runs or (1 if args.quick else 3)
    firsts = [asyncio.run(first_decision_after_flood(FLOOD_COMMANDS)) for _ in range(starts)]
    figures["first_decision_s_after_flood"] = round(statistics.median(firsts), 3)
    # the same start with an empty journal: Python's imports and the drivers' start
    bare = [asyncio.run(first_decision_after_flood(0)) for _ in range(starts)]
    figures["first_decision_s_empty_journal"] = round(statistics.median(bare), 3)
    figures["flood_commands_in_journal"] = FLOOD_COMMANDS
    figures["ratio_to_limit"] = round(float(figures["p99_ms"]) / LIMIT_P99_MS, 3)  # type: ignore[arg-type]
    figures["machine"] = machine()
    report(figures, args.json)


if __name__ == "__main__":
    main()
