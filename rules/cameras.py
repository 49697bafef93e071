"""Which camera events are alarms for the people on duty. Pure: no I/O, no clock."""

from __future__ import annotations

from datetime import datetime

from edgectl.domain import CameraAlarm, CameraEvent

ARMED_KINDS = frozenset({"motion", "input", "line"})  # alarms only in the armed period
ALWAYS_KINDS = frozenset({"tamper"})  # someone covering or turning a camera: always


def alarm(event: CameraEvent, armed: bool, now: datetime) -> CameraAlarm | None:
    """The alarm ``event`` raises, if any: an active input, motion or line crossing while
    the camera's schedule is armed, or tampering at any time."""
    if not event.active:
        return None
    if event.kind in ALWAYS_KINDS or (armed and event.kind in ARMED_KINDS):
        return CameraAlarm(source=event.source, at=now, alarm=event.kind, name=event.name)
    return None
