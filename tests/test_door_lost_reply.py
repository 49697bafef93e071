"""A strike write whose reply is lost may still have energised the strike: the relock is
armed anyway, so pulling the bus before it raises the relock alarm."""

from __future__ import annotations

import pytest

from drivers.base import DeviceError
from drivers.modbus.doors import DoorIo
from drivers.modbus.frames import Request
from edgectl.config import Door, Relay
from edgectl.domain import AccessAlarm, Event, PulseRelay


async def test_a_pulse_whose_reply_is_lost_is_still_relocked_or_alarmed() -> None:
    door = Door(id="lobby", relay=Relay(bus="b1", unit=2, coil=0))
    alarms: list[Event] = []
    io = DoorIo("b1", [door], alarms.append)
    written: list[Request] = []

    async def reply_lost(request: Request) -> object:
        written.append(request)  # it reached the wire ...
        raise DeviceError("no reply from unit 2")  # ... and the answer never came back

    with pytest.raises(DeviceError):
        await io.execute(PulseRelay(target="lobby", seconds=30), reply_lost)
    assert written and written[0].value == 1
    io.stop()  # the bus goes down inside the access time
    assert [a.alarm for a in alarms if isinstance(a, AccessAlarm)] == [
        "relock_failed: bus stopped during the access time"
    ]
