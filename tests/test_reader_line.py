"""A hostile converter line, through the real reader driver on a pty: nothing valid is lost
and the driver never restarts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.sim.ptys import PtyPair, make_pty_pair
from drivers.sim.wiegand_converter import SimWiegandConverter
from drivers.wiegand.line import checksum, encode_frame
from edgectl.config import Config
from edgectl.daemon import Daemon
from edgectl.store.journal import Entry
from tests.daemon_helpers import running, wait_for
from tests.line_streams import card_line, is_subsequence, item, stream
from tests.site import door_site
from tests.test_daemon_reader import with_reader

RESTARTS = ("driver_restarted", "device_offline", "driver_failed")


class DaemonThread:
    """The real daemon on its own loop and thread, so hypothesis examples can share it."""

    def __init__(self, cfg: Config) -> None:
        self.entries: queue.Queue[Entry] = queue.Queue()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(cfg),))
        self._thread.start()
        if not self._ready.wait(20):
            raise TimeoutError("daemon did not start")

    async def _main(self, cfg: Config) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running(cfg) as (_daemon, events):
            self._ready.set()
            stop = asyncio.ensure_future(self._stop.wait())
            while not stop.done():
                get = asyncio.ensure_future(events.get())
                await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                if get.done():
                    self.entries.put(get.result())
                else:
                    get.cancel()

    def next(self, kind: str, timeout: float = 20.0) -> Entry:
        while True:
            entry = self.entries.get(timeout=timeout)
            assert entry.kind not in RESTARTS, entry
            if entry.kind == kind:
                return entry

    def close(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


@pytest.fixture(scope="module")
def line_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonThread, int]]:
    directory = tmp_path_factory.mktemp("line")
    pair: PtyPair = make_pty_pair(directory)
    _, cfg = door_site(directory, {"r1": pair.host})
    fd = os.open(pair.device, os.O_RDWR | os.O_NOCTTY)
    daemon = DaemonThread(cfg)
    try:
        daemon.next("device_online")
        yield daemon, fd
    finally:
        daemon.close()
        os.close(fd)
        pair.close()


def _drain_feedback(fd: int) -> None:
    os.set_blocking(fd, False)
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 4096):
            pass
    os.set_blocking(fd, True)


_sentinel = iter(range(1 << 16))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(item, max_size=20))
def test_hostile_line_loses_no_valid_frame_and_never_restarts(
    line_rig: tuple[DaemonThread, int], items: list[tuple[str, str, bytes]]
) -> None:
    daemon, fd = line_rig
    raw, expected = stream(items)
    end = f"h10301:255:{next(_sentinel)}"
    number = int(end.rsplit(":", 1)[1])
    os.write(fd, raw + b"\r\n" + card_line(255, number))
    decided = []
    while not decided or decided[-1] != end:
        decided.append(daemon.next("access_decided").body["credential"])
    _drain_feedback(fd)
    assert is_subsequence(expected, decided), (expected, decided)


async def test_megabyte_without_a_break_is_one_overlong_read_and_no_restart(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    async with online_reader(tmp_path, pty_pair) as (_daemon, events, reader):
        await reader.write_all(b"A" * (1 << 20) + b"\r\n")
        reader.present("h10301", 9, 9)
        seen = []
        while not seen or seen[-1].kind != "access_decided":
            seen.append(await wait_for_any(events, 20))
        kinds = [e.kind for e in seen]
        assert not set(kinds) & set(RESTARTS), kinds
        assert [e.body["reason"] for e in seen if e.kind == "bad_read"] == ["overlong"]
        assert seen[-1].body["credential"] == "h10301:9:9"


@contextlib.asynccontextmanager
async def online_reader(
    tmp_path: Path, pty_pair: PtyPair
) -> AsyncIterator[tuple[Daemon, asyncio.Queue[Entry], SimWiegandConverter]]:
    """A door site with reader r1 on ``pty_pair``, its driver online."""
    _, cfg = door_site(tmp_path, {"r1": pty_pair.host})
    async with with_reader(cfg, pty_pair.device) as (daemon, events, reader):
        await wait_for(events, "device_online")
        yield daemon, events, reader


async def wait_for_any(events: asyncio.Queue[Entry], timeout: float) -> Entry:
    async with asyncio.timeout(timeout):
        return await events.get()


async def test_frames_ended_by_cr_alone_are_each_decided(tmp_path: Path, pty_pair: PtyPair) -> None:
    async with online_reader(tmp_path, pty_pair) as (_daemon, events, reader):
        reader.write(card_line(1, 1)[:-1] + card_line(1, 2)[:-1] + card_line(1, 3))
        got = [(await wait_for(events, "access_decided")).body["credential"] for _ in range(3)]
        assert got == ["h10301:1:1", "h10301:1:2", "h10301:1:3"]


async def test_partial_frame_then_a_pause_costs_only_itself(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    async with online_reader(tmp_path, pty_pair) as (_daemon, events, reader):
        reader.write(card_line(1, 1)[:9])
        assert (await wait_for(events, "bad_read")).body["reason"] == "framing"
        reader.present("h10301", 1, 4)
        assert (await wait_for(events, "access_decided")).body["credential"] == "h10301:1:4"


@pytest.mark.parametrize("digits", ["+1807D2", " 1807D2"])
async def test_signed_or_spaced_hex_is_a_framing_bad_read(
    tmp_path: Path, pty_pair: PtyPair, digits: str
) -> None:
    async with online_reader(tmp_path, pty_pair) as (_daemon, events, reader):
        payload = f"W26:{digits}".encode()
        reader.write(payload + b"*%02X\r\n" % checksum(payload))
        reader.present("h10301", 2, 2)
        first = await wait_for_any(events, 5)
        assert (first.kind, first.body.get("reason")) == ("bad_read", "framing")
        assert (await wait_for(events, "access_decided")).body["credential"] == "h10301:2:2"


@pytest.mark.parametrize("bits", [40, 64, 128])
async def test_long_raw_frames_are_decided_and_the_next_card_too(
    tmp_path: Path, pty_pair: PtyPair, bits: int
) -> None:
    async with online_reader(tmp_path, pty_pair) as (_daemon, events, reader):
        reader.write(encode_frame((1 << bits) - 1, bits))
        reader.present("h10301", 3, 3)
        raw = await wait_for(events, "access_decided")
        assert raw.body["credential"] == f"raw{bits}:{(1 << bits) - 1}"
        assert raw.body["reason"] == "unknown_credential"
        assert (await wait_for(events, "access_decided")).body["credential"] == "h10301:3:3"
