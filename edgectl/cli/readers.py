"""``edgectl readers watch`` and ``edgectl cards enroll``: what a reader reads, live.

Through the running daemon (it owns the reader ports) or, when none runs, by opening the
reader's port directly. A keypad entry is reported without its keys and is never enrolled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer

from drivers.base import DeviceError
from edgectl.cli.common import (
    ConfigOption,
    console,
    err_console,
    fail,
    load_or_exit,
    open_site,
)
from edgectl.config import Config
from edgectl.control_client import daemon_reads, request
from edgectl.site import reads
from edgectl.site.actor import Actor
from edgectl.store.credentials import CredentialError, credential_values

app = typer.Typer(help="Wiegand readers: watch what they read.", no_args_is_help=True)


async def _reads(cfg: Config, reader: str) -> AsyncIterator[dict[str, Any]]:
    """Reads at ``reader`` (or every reader), from the daemon or straight from the port."""
    try:
        await request(cfg.daemon.control_socket, "GET", "/v1/status", timeout=3)
    except OSError:
        from edgectl.readtap import direct_reads  # the serial side: only without a daemon

        chosen = [r for r in cfg.readers if not reader or r.id == reader]
        ports = ", ".join(r.port for r in chosen)
        err_console.print(f"no daemon running; reading {ports} directly", highlight=False)
        async for read in direct_reads(chosen):
            yield read
        return
    err_console.print("reading through the running daemon", highlight=False)
    async for read in daemon_reads(cfg.daemon.control_socket, reader):
        yield read


def _check_reader(cfg: Config, reader: str) -> None:
    known = [r.id for r in cfg.readers]
    if reader and reader not in known:
        raise fail(f"no reader {reader!r}; configured: {', '.join(known) or 'none'}", 2)


def describe(read: dict[str, Any], zone: ZoneInfo) -> str:
    """One read as a line an installer reads (time in the site's zone)."""
    at = datetime.fromisoformat(read["at"]).astimezone(zone)
    head = f"{at.isoformat(sep=' ', timespec='milliseconds')} {read['reader']}"
    if read["kind"] == "card":
        facility = "-" if read["facility"] is None else read["facility"]
        return (
            f"{head} card {read['format']} facility {facility} number {read['number']} "
            f"({read['bits']} bits)"
        )
    if read["kind"] == "keypad":
        return f"{head} keypad entry (keys hidden)"
    return f"{head} BAD READ {read['reason']}: {read['line']}"


@app.command("watch")
def watch(
    reader: str = typer.Argument("", help="Reader id; default: every reader."),
    count: int = typer.Option(0, "--count", "-n", help="Stop after this many reads (0: never)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    config: Path = ConfigOption,
) -> None:
    """Show live reads (format, facility, number, bits) and bad reads with their reason."""
    cfg = load_or_exit(config)
    _check_reader(cfg, reader)

    async def main() -> None:
        seen = 0
        async for read in _reads(cfg, reader):
            if read["kind"] == "listening":
                err_console.print(f"listening at {read['reader']}", highlight=False)
                continue
            line = json.dumps(read) if as_json else describe(read, cfg.site.zone)
            console.print(line, highlight=False, soft_wrap=True)
            seen += 1
            if seen == count:
                return

    try:
        asyncio.run(main())
    except DeviceError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass


async def next_card(cfg: Config, reader: str, timeout: float) -> dict[str, Any]:
    """The next card read at ``reader``; keypad entries and bad reads are reported."""
    async with asyncio.timeout(timeout):
        async for read in _reads(cfg, reader):
            if read["kind"] == "card":
                return read
            if read["kind"] == "listening":
                err_console.print(f"present a card at {reader} now", highlight=False)
                continue
            if read["kind"] == "keypad":
                err_console.print("a keypad entry: PINs are never enrolled; present a card")
            else:
                err_console.print(describe(read, cfg.site.zone), highlight=False)
    raise DeviceError(f"reader {reader} stopped")


def enroll(
    reader: str = typer.Option(..., "--reader", "-r", help="The reader to present the card at."),
    person: str = typer.Option(..., "--person", "-p", help="Who the card is for (person id)."),
    level: list[str] = typer.Option([], "--level", "-l", help="Also grant this level."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for the card."),
    config: Path = ConfigOption,
) -> None:
    """Enroll the next card presented at a reader for a person."""
    cfg = load_or_exit(config)
    if not reader:
        raise fail("--reader: expected a reader id", 2)
    _check_reader(cfg, reader)
    with closing(open_site(cfg)) as site:
        if reads.person(site.conn, person) is None:
            raise fail(f"no person {person!r}; add them first: edgectl people add {person}")
        known = {lv["id"] for lv in reads.levels(site.conn)}
        if missing := [lv for lv in level if lv not in known]:
            raise fail(f"no access level {', '.join(missing)}; see edgectl levels list", 2)
        try:
            read = asyncio.run(next_card(cfg, reader, timeout))
        except TimeoutError:
            raise fail(f"no card presented at {reader} within {timeout:g} s") from None
        except DeviceError as exc:
            raise fail(str(exc)) from None
        facility, number = read["facility"], read["number"]
        label = f"card {number if facility is None else f'{facility}:{number}'}"
        holder = reads.card_holder(site.conn, facility, number)
        if holder is not None:
            raise fail(f"{label} is already enrolled to {holder}")
        try:
            values = credential_values(
                "card", format=read["format"], facility=facility, number=number
            )
            site.add_credential(person, values, actor=Actor.cli(), levels=level)
        except CredentialError as exc:
            raise fail(str(exc)) from None
    console.print(
        f"enrolled {label} ({read['format']}, {read['bits']} bits) for {person}", highlight=False
    )
