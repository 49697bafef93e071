"""A card matches on its format, and a card of any length up to 128 bits can be enrolled:
through the CLI and through the real reader driver on a pty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.sim.ptys import PtyPair
from drivers.wiegand.line import encode_frame
from edgectl.daemon import Daemon
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from tests.access_site import access_site
from tests.cli_helpers import edgectl
from tests.site import door_site
from tests.test_daemon_reader import wait_for, with_reader


async def enrol(
    daemon: Daemon, person: str, facility: int | None, number: int, fmt: str = "h10301"
) -> None:
    """A card with access everywhere, enrolled in the running daemon."""
    await daemon.site.call(SiteService.add_card, person, facility, number, fmt=fmt, actor=SYSTEM)


def _cards(conf: str) -> list[dict[str, object]]:
    listed = edgectl("cards", "list", "--json", "-c", conf)
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--card", "77:4242", "--format", "h99999"), "format: unknown Wiegand format 'h99999'"),
        (("--card", "300:1"), "facility: expected 0 to 255 (8 bits of h10301), got 300"),
        (("--card", "1:70000"), "number: expected 0 to 65535 (16 bits of h10301), got 70000"),
        (("--card", "1:1", "--format", "raw56"), "facility: format raw56 has no facility code"),
        (("--card", str(1 << 56), "--format", "raw56"), "number: expected 0 to"),
        (("--card", "1:1", "--level", "no-such-level"), "no-such-level"),
    ],
)
def test_cards_add_refuses_what_the_format_cannot_hold_and_saves_nothing(
    tmp_path: Path, args: tuple[str, ...], problem: str
) -> None:
    access_site(tmp_path)
    conf = str(tmp_path / "config.toml")
    done = edgectl("cards", "add", "p1", *args, "-c", conf)
    assert done.returncode == 1, done.stdout
    assert problem in " ".join(done.stderr.split())
    assert _cards(conf) == []


@pytest.mark.parametrize("bits", [40, 56, 64, 128])
def test_raw_cards_of_any_length_enrol_and_list_exactly(tmp_path: Path, bits: int) -> None:
    access_site(tmp_path)
    conf = str(tmp_path / "config.toml")
    number = (1 << bits) - 1
    done = edgectl(
        "cards", "add", "p1", "--card", str(number), "--format", f"raw{bits}", "-c", conf
    )
    assert done.returncode == 0, done.stderr
    (card,) = _cards(conf)
    assert card["number"] == number


@pytest.mark.parametrize("bits", [64, 128])
async def test_long_raw_card_enrolled_is_granted_at_the_reader(
    tmp_path: Path, pty_pair: PtyPair, bits: int
) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    number = (1 << bits) - 1
    async with with_reader(cfg, pty_pair.device) as (daemon, events, reader):
        await enrol(daemon, "p1", None, number, f"raw{bits}")
        await wait_for(events, "device_online")
        reader.write(encode_frame(number, bits))
        decided = await wait_for(events, "access_decided")
        assert (decided.body["granted"], decided.body["person_id"]) == (True, "p1")
        reader.write(encode_frame(number - 1, bits))
        other = await wait_for(events, "access_decided")
        assert (other.body["granted"], other.body["reason"]) == (False, "unknown_credential")


FORMATS = ("wiegand34", "h10304", "c1000")


async def test_same_numbers_in_another_format_are_not_the_card(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    async with with_reader(cfg, pty_pair.device) as (daemon, events, reader):
        await enrol(daemon, "p1", 77, 4242)
        await wait_for(events, "device_online")
        for fmt in FORMATS:
            reader.present(fmt, 77, 4242)
            decided = await wait_for(events, "access_decided")
            assert decided.body["credential"] == f"{fmt}:77:4242"
            assert (decided.body["granted"], decided.body["reason"]) == (
                False,
                "unknown_credential",
            )
        reader.present("h10301", 77, 4242)
        assert (await wait_for(events, "access_decided")).body["granted"] is True


async def test_formats_named_as_aliases_in_config_match_each_other(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    _, cfg = door_site(
        tmp_path, {"r1": pty_pair.host}, access={"format_aliases": [["h10301", "wiegand34"]]}
    )
    async with with_reader(cfg, pty_pair.device) as (daemon, events, reader):
        await enrol(daemon, "p1", 77, 4242)
        await wait_for(events, "device_online")
        reader.present("wiegand34", 77, 4242)
        assert (await wait_for(events, "access_decided")).body["granted"] is True
        reader.present("h10304", 77, 4242)
        assert (await wait_for(events, "access_decided")).body["granted"] is False
