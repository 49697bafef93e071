"""``edgectl sim``: a simulated compound, with the daemon deciding real-protocol traffic."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from drivers.sim.wiegand_converter import card_line
from drivers.wiegand import codec
from drivers.wiegand.line import encode_frame, encode_keys
from edgectl import logs
from edgectl.daemon import Daemon
from edgectl.simulation import EXAMPLE_DIR, EXAMPLE_INTERCOM_PORT, Compound, simulated_compound
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.db import StoreError
from edgectl.store.journal import Entry

console = Console()
DEFAULT_DIR = Path("/tmp/edgectl-sim")

# The seeded credential set: (person, facility, number, status).
SEED = [
    ("res-0001", 12, 1001, "active"),
    ("res-0002", 12, 1002, "active"),
    ("res-0003", 12, 1003, "revoked"),
    ("staff-01", 12, 2001, "active"),
]

STYLE = {
    "access_decided": "bold",
    "bad_read": "yellow",
    "gate_state": "cyan",
    "checkpoint_missed": "bold red",
    "guard_overdue": "bold red",
    "workorder_overdue": "bold red",
    "workorder_created": "bold yellow",
}


async def seed(daemon: Daemon) -> None:
    """Enrol the seeded cards (once: a rerun in the same folder keeps them)."""
    site = daemon.site
    for person, facility, number, status in SEED:
        if await site.call(SiteService.card_id, facility, number) is None:
            await site.call(SiteService.add_card, person, facility, number, actor=SYSTEM)
        await site.call(SiteService.set_card_status, facility, number, status, actor=SYSTEM)


# One round of the mix: mostly residents' cards, and every kind of trouble a gate sees.
MIX = ("valid", "valid", "unknown", "valid", "revoked", "damaged", "valid", "noise")


def present_one(compound: Compound, rng: random.Random, turn: int) -> str:
    """Present the ``turn``-th item of the mix and say what was presented."""
    reader = compound.reader
    kind = MIX[turn % len(MIX)]
    if kind in ("valid", "revoked"):
        _, facility, number, status = rng.choice(
            [s for s in SEED if (s[3] == "active") == (kind == "valid")]
        )
        reader.present("h10301", facility, number)
        return f"card {facility}:{number} ({status})"
    if kind == "unknown":
        number = rng.randrange(3000, 60000)
        reader.present("h10301", 12, number)
        return f"card 12:{number} (unknown)"
    if kind == "damaged":
        good = codec.encode(codec.builtin_formats()["h10301"], 12, 1001)
        reader.write(encode_frame(good ^ (1 << 5), 26))  # one data bit flipped: parity fails
        return "damaged frame (bad parity)"
    reader.write(b"W26:zz*00\r\n")
    return "line noise (corrupt line)"


def _show(entry: Entry) -> None:
    body = " ".join(f"{k}={v}" for k, v in entry.body.items() if v not in (None, "", {}))
    style = STYLE.get(entry.kind, "dim")
    if entry.kind == "access_decided":
        style = "bold green" if entry.body.get("granted") else "bold red"
    console.print(
        f"[dim]{entry.seq:>6}[/] [{style}]{entry.kind:<18}[/] {entry.source:<14} {body}",
        highlight=False,
    )


def _intercom_port(directory: Path) -> int:
    """The example config's intercom port in its own folder (so `edgectl run --config
    config.example.toml` finds it); elsewhere a free port, as two sims may run at once."""
    return EXAMPLE_INTERCOM_PORT if str(directory) == EXAMPLE_DIR else 0


async def _run(directory: Path, duration: float, interval: float, seed_value: int) -> None:
    async with simulated_compound(
        directory, cameras=1, intercom_port=_intercom_port(directory)
    ) as compound:
        daemon = Daemon(compound.config)
        await daemon.start()
        await seed(daemon)
        events = daemon.journal.subscribe()
        rng = random.Random(seed_value)
        console.print(
            f"[bold]simulated compound[/] in {directory}: gate on {compound.bus.host}, "
            f"reader on {compound.reader_link.host}, ONVIF dome over the gate on "
            f"{compound.cameras[0].base}, "
            f"intercoms at {[i.url for i in compound.intercoms.values()]}. Ctrl-C to stop."
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration if duration > 0 else float("inf")
        next_card = loop.time() + 0.5
        turn = 0
        try:
            while loop.time() < deadline:
                if loop.time() >= next_card:
                    console.print(f"[magenta]>> presenting {present_one(compound, rng, turn)}[/]")
                    turn += 1
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


async def _operations(directory: Path) -> None:
    from edgectl.sim_operations import JumpClock, Scenario

    async with simulated_compound(directory) as compound:
        clock = JumpClock()
        daemon = Daemon(compound.config, clock=clock)
        await daemon.start()
        await seed(daemon)
        console.print(
            "[bold]simulated compound, operations in time-lapse[/]: a patrol tour with a "
            "missed checkpoint, then a gate fault work order accepted and escalated."
        )
        try:
            await Scenario(
                compound, daemon, clock, _show, lambda s: console.print(f"[magenta]{s}[/]")
            ).run()
        finally:
            await daemon.stop()


async def _devices_only(directory: Path, duration: float) -> None:
    # exactly the example config (its intercom URL included)
    async with simulated_compound(directory, intercom_port=_intercom_port(directory)) as compound:
        console.print(
            f"[bold]simulated devices[/] running: gate bus on {compound.bus.host}, reader on "
            f"{compound.reader_link.host}.\nRun the daemon against them with: "
            f"edgectl run --config {compound.config_path}\n"
            f"Present a card at the reader with: edgectl sim present --card 12:1001"
            + ("" if directory == DEFAULT_DIR else f" --dir {directory}")
            + "\n(Ctrl-C stops the devices)",
            highlight=False,
        )
        await asyncio.sleep(duration if duration > 0 else float("inf"))


async def _until_terminated(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main``; SIGTERM cancels it, so its cleanup (the socat links) still runs."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def present(directory: Path, card: str | None, pin: str | None, card_format: str) -> None:
    """Write a card frame (or keypad digits) to the reader of a running devices-only sim."""
    if (card is None) == (pin is None):
        console.print("[bold red]error:[/] give one of --card FACILITY:NUMBER or --pin DIGITS")
        raise typer.Exit(2)
    try:
        if card is not None:
            facility_text, _, number_text = card.rpartition(":")
            facility = int(facility_text) if facility_text else None
            line = card_line(card_format, facility, int(number_text))
        else:
            assert pin is not None
            if not pin.isdigit():
                raise ValueError(f"--pin takes digits only, got {pin!r}")
            line = encode_keys(pin)
    except KeyError:
        known = ", ".join(sorted(codec.builtin_formats()))
        console.print(f"[bold red]error:[/] unknown format {card_format!r}; known: {known}")
        raise typer.Exit(2) from None
    except ValueError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    device = directory / "reader-dev"
    try:
        fd = os.open(device, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        console.print(
            f"[bold red]error:[/] no simulated reader at {device} ({exc.strerror}); "
            f"start `edgectl sim --devices-only --dir {directory}` first",
            highlight=False,
        )
        raise typer.Exit(1) from None
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    what = f"{card_format} card {card}" if card is not None else f"{len(pin or '')} keypad digits"
    console.print(f"presented {what} at the simulated reader", highlight=False)


def run_sim(
    duration: float,
    interval: float,
    directory: Path,
    seed_value: int,
    devices_only: bool,
    operations: bool = False,
) -> None:
    logs.setup("error")
    try:
        if operations:
            asyncio.run(_until_terminated(_operations(directory)))
        elif devices_only:
            asyncio.run(_until_terminated(_devices_only(directory, duration)))
        else:
            asyncio.run(_until_terminated(_run(directory, duration, interval, seed_value)))
    except KeyboardInterrupt:
        pass
    except StoreError as exc:  # e.g. a database left in --dir by a newer edgectl
        console.print(f"[bold red]error:[/] {exc} (use another --dir)")
        raise typer.Exit(1) from None
    console.print(f"[bold]done[/]; journal kept in {directory / 'edgectl.db'}")
