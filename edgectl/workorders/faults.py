"""Device faults become work orders: one open order per fault, closed on recovery.

Fed with committed journal entries, matched by event kind name, so device families added
by other modules (cameras, intercoms) need no import here:

- ``gate_state`` with state ``fault`` opens ``gate_fault:<gate>``; any other known state
  closes it;
- ``device_offline`` for longer than ``workorders.fault_after_s`` opens ``offline:<id>``
  (any device: gate, door, reader, camera, intercom); ``device_online`` closes it;
- ``access_alarm`` ``held_open`` opens ``held_open:<door>``; ``door_secured`` closes it;
- ``camera_fault`` (the camera family's health check: ``fault`` frozen, black, defocus,
  moved; ``active`` true or false) opens ``camera_fault:<camera>:<fault>`` and closes it.

The offline grace time is a deadline on the site timeline, not a sleeping task.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from edgectl.store.journal import Entry
from edgectl.timeline import Timeline
from edgectl.workorders.engine import WorkOrderEngine

NOT_A_STATE = frozenset({"fault", "unknown"})


class FaultWatcher:
    def __init__(self, engine: WorkOrderEngine, timeline: Timeline, fault_after_s: float) -> None:
        self.engine = engine
        self.timeline = timeline
        self.grace = timedelta(seconds=fault_after_s)

    def observe(self, entry: Entry) -> None:
        kind, src, body = entry.kind, entry.source, entry.body
        if kind == "gate_state":
            state = body.get("state")
            if state == "fault":
                reason = body.get("fault_text") or body.get("fault_code") or "fault"
                self.engine.fault(f"gate_fault:{src}", src, f"Gate {src} fault: {reason}")
            elif state not in NOT_A_STATE:
                self.engine.recovered(f"gate_fault:{src}")
        elif kind == "device_offline":
            key = ("offline", src)
            if self.timeline.armed(key) is None:  # repeated reports keep the first time
                self.timeline.set(key, entry.at + self.grace, partial(self._offline, src))
        elif kind == "device_online":
            self.timeline.cancel(("offline", src))
            self.engine.recovered(f"offline:{src}")
        elif kind == "access_alarm":
            door = str(body.get("target") or src)
            if body.get("alarm") == "held_open":
                self.engine.fault(f"held_open:{door}", door, f"Door {door} held open")
            elif body.get("alarm") == "door_secured":
                self.engine.recovered(f"held_open:{door}")
        elif kind == "camera_fault":
            fault = str(body.get("fault") or "fault")
            camera_key = f"camera_fault:{src}:{fault}"
            if body.get("active", True):
                self.engine.fault(camera_key, src, f"Camera {src} picture fault: {fault}")
            else:
                self.engine.recovered(camera_key)

    def _offline(self, device: str, now: datetime) -> None:
        minutes = self.grace.total_seconds() / 60
        self.engine.fault(
            f"offline:{device}", device, f"Device {device} offline for over {minutes:g} min"
        )
