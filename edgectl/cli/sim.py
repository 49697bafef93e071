"""``edgectl sim``: a simulated compound, with the daemon deciding real-protocol traffic."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

from rich.console import Console

from drivers.wiegand.line import encode_frame
from edgectl import logs
from edgectl.daemon import Daemon
from edgectl.simulation import Compound, simulated_compound
from edgectl.store.journal import Entry

console = Console()

# The seeded credential set: (person, facility, number, status).
SEED = [
    ("res-0001", 12, 1001, "active"),
    ("res-0002", 12, 1002, "active"),
    ("res-0003", 12, 1003, "revoked"),
    ("staff-01", 12, 2001, "active"),
]

STYLE = {"access_decided": "bold", "bad_read": "yellow", "gate_state": "cyan"}


def seed(daemon: Daemon) -> None:
    for person, facility, number, status in SEED:
        daemon.index.add_card(person, facility, number)
        if status != "active":
            daemon.index.set_status(facility, number, status)


def present_one(compound: Compound, rng: random.Random) -> str:
    """Present a card from a realistic mix and say what was presented."""
    roll = rng.random()
    reader = compound.reader
    if roll < 0.55:
        _, facility, number, status = rng.choice(SEED)
        reader.present("h10301", facility, number)
        return f"card {facility}:{number} ({status})"
    if roll < 0.75:
        number = rng.randrange(3000, 60000)
        reader.present("h10301", 12, number)
        return f"card 12:{number} (unknown)"
    if roll < 0.9:
        reader.write(encode_frame(0x2ABCDEF ^ 1, 26))  # one bit flipped: parity fails
        return "damaged frame (bad parity)"
    reader.write(b"W2Z:zz*00\r\n")
    return "line noise (bad framing)"


def _show(entry: Entry) -> None:
    body = " ".join(f"{k}={v}" for k, v in entry.body.items() if v not in (None, "", {}))
    style = STYLE.get(entry.kind, "dim")
    if entry.kind == "access_decided":
        style = "bold green" if entry.body.get("granted") else "bold red"
    console.print(
        f"[dim]{entry.seq:>6}[/] [{style}]{entry.kind:<18}[/] {entry.source:<14} {body}",
        highlight=False,
    )


async def _run(directory: Path, duration: float, interval: float, seed_value: int) -> None:
    async with simulated_compound(directory) as compound:
        daemon = Daemon(compound.config)
        await daemon.start()
        seed(daemon)
        events = daemon.journal.subscribe()
        rng = random.Random(seed_value)
        console.print(
            f"[bold]simulated compound[/] in {directory}: gate on {compound.bus.host}, "
            f"reader on {compound.reader_link.host}. Ctrl-C to stop."
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration if duration > 0 else float("inf")
        next_card = loop.time() + 0.5
        try:
            while loop.time() < deadline:
                if loop.time() >= next_card:
                    console.print(f"[magenta]>> presenting {present_one(compound, rng)}[/]")
                    next_card = loop.time() + interval
                timeout = max(0.0, min(deadline, next_card) - loop.time())
                try:
                    _show(await asyncio.wait_for(events.get(), timeout))
                except TimeoutError:
                    pass
        finally:
            await daemon.stop()
            while not events.empty():
                _show(events.get_nowait())


def run_sim(duration: float, interval: float, directory: Path | None, seed_value: int) -> None:
    logs.setup("warning")
    base = directory or Path(tempfile.mkdtemp(prefix="edgectl-sim-"))
    try:
        asyncio.run(_run(base, duration, interval, seed_value))
    except KeyboardInterrupt:
        pass
    console.print(f"[bold]done[/]; journal kept in {base / 'edgectl.db'}")
