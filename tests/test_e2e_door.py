"""End to end: a door on a Modbus I/O module (strike relay on a coil, contact on an input),
its reader on a pty, and the door state machine running in the daemon."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from drivers.sim.io_module import SimIoModule
from edgectl.domain import HoldRelay
from edgectl.simulation import Compound, simulated_compound
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from tests.daemon_helpers import running, wait_for

DOOR = {
    "id": "lobby-a",
    "area": "building-a",
    "unlock_s": 1.0,
    "egress": True,
    "relay": {"bus": "rs485-1", "unit": 2, "coil": 0},
    "contact": {"bus": "rs485-1", "unit": 2, "input": 0, "poll_interval_s": 0.05},
}


def overrides(directory: Path) -> dict[str, Any]:
    return {
        "doors": [DOOR],
        "readers": [{"id": "lobby-in", "port": str(directory / "reader-host"), "door": "lobby-a"}],
        "access": {"points": [{"target": "lobby-a", "held_prealarm_s": 0.6, "held_alarm_s": 1.2}]},
    }


def io(compound: Compound) -> SimIoModule:
    return compound.gates.io[2]


async def until(check: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_grant_pulses_strike_and_opening_relocks_then_held_open_escalates(
    tmp_path: Path,
) -> None:
    async with simulated_compound(tmp_path, overrides(tmp_path)) as compound:
        async with running(compound.config) as (daemon, events):
            await daemon.site.call(SiteService.add_card, "res-1", 12, 1001, actor=SYSTEM)
            await wait_for(events, "device_online")
            compound.reader.present("h10301", 12, 1001)
            assert (await wait_for(events, "access_decided")).body["granted"] is True
            await until(lambda: io(compound).relays[0])  # strike energised
            io(compound).set_input(0, True)  # the resident opens the door
            contact = await wait_for(events, "door_contact")
            while not contact.body["open"]:  # the first read reports the door closed
                contact = await wait_for(events, "door_contact")
            assert contact.source == "lobby-a"
            await until(lambda: not io(compound).relays[0])  # relocked as soon as it opened
            pre = await wait_for(events, "access_alarm")
            held = await wait_for(events, "access_alarm")
            assert (pre.body["alarm"], held.body["alarm"]) == ("held_open_prealarm", "held_open")
            io(compound).set_input(0, False)
            secured = await wait_for(events, "access_alarm")
            assert secured.body["alarm"] == "door_secured"
            assert [on for _, coil, on in io(compound).writes if coil == 0] == [True, False]


async def test_unused_grant_relocks_after_access_time(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path, overrides(tmp_path)) as compound:
        async with running(compound.config) as (daemon, events):
            await daemon.site.call(SiteService.add_card, "res-1", 12, 1001, actor=SYSTEM)
            await wait_for(events, "device_online")
            compound.reader.present("h10301", 12, 1001)
            await until(lambda: io(compound).relays[0])
            on_at = io(compound).writes[-1][0]
            await until(lambda: not io(compound).relays[0])
            assert 0.9 < io(compound).writes[-1][0] - on_at < 1.5  # unlock_s = 1.0


async def test_forced_open_raises_alarm_and_emergency_releases_door(tmp_path: Path) -> None:
    async with simulated_compound(tmp_path, overrides(tmp_path)) as compound:
        async with running(compound.config) as (daemon, events):
            await wait_for(events, "device_online")
            io(compound).set_input(0, True)  # opened with no grant: forced
            forced = await wait_for(events, "access_alarm")
            assert forced.body["alarm"] == "forced_open" and forced.source == "lobby-a"
            io(compound).set_input(0, False)
            await wait_for(events, "access_alarm")  # door_secured
            for command in await daemon.site.call(SiteService.set_emergency, True, actor=SYSTEM):
                await daemon.router.execute(command)
            assert io(compound).relays[0] is True  # egress door held unlocked
            io(compound).set_input(0, True)  # evacuation: no alarm while released
            await until(lambda: daemon.router.doors.phases()["lobby-a"] == "open")
            await asyncio.sleep(0.3)
            assert daemon.router.doors.phases()["lobby-a"] == "open"
            await daemon.router.execute(HoldRelay(target="lobby-a", on=False))
            assert io(compound).relays[0] is False


async def test_bus_lost_during_access_time_raises_relock_alarm(tmp_path: Path) -> None:
    slow = DOOR | {"unlock_s": 5.0}
    async with (
        simulated_compound(tmp_path, overrides(tmp_path) | {"doors": [slow]}) as compound,
        running(compound.config) as (daemon, events),
    ):
        await daemon.site.call(SiteService.add_card, "res-1", 12, 1001, actor=SYSTEM)
        await wait_for(events, "device_online")
        compound.reader.present("h10301", 12, 1001)
        await until(lambda: io(compound).relays[0])
        compound.bus.close()  # the RS-485 adapter is pulled while the strike is energised
        alarm = await wait_for(events, "access_alarm")
        assert alarm.source == "lobby-a"
        assert alarm.body["alarm"] == "relock_failed: bus stopped during the access time"
