"""The intercom drivers against the simulated 2N, Hikvision and Dahua devices: real HTTP,
real digest auth, real multipart streams, and every fault the issue lists."""

from __future__ import annotations

import asyncio
import time

import pytest

from drivers.base import DeviceError
from edgectl.domain import PulseRelay, ReaderFeedback
from tests.intercom_rig import VENDORS, driven, rig_for, settings_for, sim_device, wait_until

pytestmark = pytest.mark.parametrize("vendor", VENDORS)

OPEN = PulseRelay(target="ped-door", seconds=5.0)


async def test_button_press_is_a_ringing_signal_and_hang_up_ends_it(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        rig.sim.press_button()
        await rig.wait("intercom_signal", state="ringing")
        rig.sim.hang_up()
        await rig.wait("intercom_signal", state="ended")


async def test_card_at_the_intercom_is_a_credential(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        rig.sim.card(12345678)
        event = await rig.wait("credential_presented", number=12345678)
        assert event.source == "ic1" and event.body()["facility"] is None


async def test_tamper_is_an_alarm(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        rig.sim.tamper()
        await rig.wait("intercom_tamper")


async def test_open_switches_the_relay_and_returns_when_confirmed(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        await rig.driver.execute(OPEN)
        assert rig.sim.opens == [1] and rig.sim.relay[1] is True
        await rig.driver.execute(ReaderFeedback(target="ic1", granted=True))  # a no-op


async def test_the_door_sensor_reports_open_then_closed_after_an_open(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        await rig.driver.execute(OPEN)
        opened = await rig.wait("intercom_door", state="open")
        assert (opened.source, opened.body()["target"]) == ("ic1", "ped-door")
        await rig.wait("intercom_door", state="closed")
        assert rig.sim.relay[1] is False  # closed once the relay dropped
        assert rig.count("door_contact") == 0  # never mistaken for a wired door contact


async def test_an_input_change_is_an_event(vendor: str) -> None:
    if vendor == "hikvision":
        pytest.skip("the documented door stations report no inputs on the alert stream")
    async with rig_for(vendor) as rig:
        rig.sim.input(2)
        await rig.wait("intercom_input", input="input2", active=True)
        rig.sim.input(2, active=False)
        await rig.wait("intercom_input", input="input2", active=False)


async def test_refused_open_is_a_stable_error_and_an_event(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        rig.sim.faults.refuse_open = True
        with pytest.raises(DeviceError) as caught:
            await rig.driver.execute(OPEN)
        assert getattr(caught.value, "code", None) == "device_refused"
        assert rig.sim.opens == []
        await rig.wait("intercom_open_failed", code="device_refused", target="ped-door")


async def test_unconfirmed_open_times_out(vendor: str) -> None:
    async with rig_for(vendor, timeout_s=0.3) as rig:
        rig.sim.faults.hang_open = True
        started = time.monotonic()
        with pytest.raises(DeviceError) as caught:
            await rig.driver.execute(OPEN)
        assert getattr(caught.value, "code", None) == "device_timeout"
        assert time.monotonic() - started < 2.0
        await rig.wait("intercom_open_failed", code="device_timeout")


async def test_unknown_events_are_counted_and_the_stream_goes_on(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        rig.sim.unknown("SomethingNew")
        rig.sim.card(42)
        await rig.wait("credential_presented", number=42)
        assert rig.driver.unknown["SomethingNew"] == 1
        assert rig.count("device_offline") == 0


async def test_reboot_mid_stream_reconnects(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        streams = rig.sim.streams
        rig.sim.reboot()
        await rig.wait("device_offline")
        await wait_until(lambda: rig.sim.streams > streams)
        await wait_until(lambda: rig.driver.online)
        rig.sim.card(7)
        await rig.wait("credential_presented", number=7)


async def test_stalled_stream_is_dropped_and_reconnected(vendor: str) -> None:
    async with rig_for(vendor, stall_s=0.6) as rig:
        streams = rig.sim.streams
        rig.sim.faults.stall = True
        await rig.wait("device_offline", within_s=5)
        rig.sim.faults.stall = False
        await wait_until(lambda: rig.sim.streams > streams and rig.driver.online)
        rig.sim.card(8)
        await rig.wait("credential_presented", number=8)


async def test_wrong_credentials_back_off_and_never_lock_the_account(vendor: str) -> None:
    async with sim_device(vendor) as sim:
        settings = settings_for(vendor, sim.url, password="wrong", auth_backoff_s=30.0)
        async with driven(sim, settings) as rig:
            failed = await rig.wait("intercom_auth_failed")
            assert failed.body()["retry_in_s"] == 30.0
            await rig.wait("device_offline")
            await asyncio.sleep(1.0)  # a hammering driver would retry many times by now
            for _ in range(6):  # operators keep pressing open: the device is not asked
                with pytest.raises(DeviceError) as caught:
                    await rig.driver.execute(OPEN)
                assert getattr(caught.value, "code", None) == "device_auth_failed"
            assert sim.guard.bad_attempts == 1
            assert not sim.guard.locked and sim.opens == []
            assert rig.count("intercom_auth_failed") == 1


async def test_an_event_arrives_at_once_not_with_the_next_heartbeat(vendor: str) -> None:
    async with sim_device(vendor, heartbeat_s=5.0) as sim:
        async with driven(sim, settings_for(vendor, sim.url, stall_s=30.0)) as rig:
            await rig.wait("device_online")
            started = time.monotonic()
            sim.press_button()
            await rig.wait("intercom_signal", state="ringing")
            assert time.monotonic() - started < 1.0


async def test_the_unknown_names_kept_are_bounded(vendor: str) -> None:
    async with rig_for(vendor) as rig:
        for i in range(40):
            rig.sim.unknown(f"Novel{i}")
        rig.sim.card(43)
        await rig.wait("credential_presented", number=43)
        assert len(rig.driver.unknown) == 33 and rig.driver.unknown["other"] == 8
