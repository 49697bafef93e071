"""Cameras on the site: evidence frames, domes turned to alarms, camera alarms.

Watches every recorded event (``Router.watch``) and never blocks: an access decision at a
gate or door that names a camera, or an access alarm there, asks that camera for an
evidence frame through ``Router.execute_soon`` (the gate was already actuated); an alarm
that a dome's preset is bound to turns the dome; a camera's input or motion event in its
armed period becomes a ``camera_alarm`` (``rules/cameras.py`` decides).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from drivers.onvif.driver import CameraDriver
from drivers.onvif.offloop import CameraLoop, OffLoopDriver
from edgectl.config import Config
from edgectl.domain import (
    AccessAlarm,
    AccessDecided,
    CameraAlarm,
    CameraEvent,
    CaptureEvidence,
    Event,
    PtzGotoPreset,
)
from edgectl.router import Router
from edgectl.store.evidence import EvidenceStore, new_id
from rules import cameras as camera_rules
from rules.policy import SitePolicy

MB = 1024 * 1024


class CameraSite:
    def __init__(
        self,
        config: Config,
        router: Router,
        policy: Callable[[], SitePolicy],
        clock: Callable[[], datetime],
    ) -> None:
        self.router = router
        self.policy = policy
        self.clock = clock
        self.camera_at = {g.id: g.camera for g in config.gates if g.camera}
        self.camera_at.update({d.id: d.camera for d in config.doors if d.camera})
        self.armed_schedule = {c.id: c.armed_schedule for c in config.cameras.devices}
        self.bindings: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        for cam in config.cameras.devices:
            for binding in cam.presets:
                for alarm in binding.alarms:
                    self.bindings[binding.target, alarm].append((cam.id, binding.preset))

    def observe(self, event: Event) -> None:
        if isinstance(event, AccessDecided) and event.target in self.camera_at:
            self.capture(self.camera_at[event.target], "access", event.source)
        elif isinstance(event, AccessAlarm):
            for camera, preset in self.bindings.get((event.target, event.alarm), ()):
                self.router.execute_soon(PtzGotoPreset(target=camera, preset=preset))
            if event.target in self.camera_at:
                self.capture(self.camera_at[event.target], "alarm", event.target)
        elif isinstance(event, CameraEvent):
            alarm = camera_rules.alarm(event, self.armed(event.source, event.at), event.at)
            if alarm is not None:
                self.router.record(alarm)
        elif isinstance(event, CameraAlarm):
            self.capture(event.source, "camera_alarm", event.source)

    def armed(self, camera: str, now: datetime) -> bool:
        policy = self.policy()
        plan = policy.plan(self.armed_schedule.get(camera, "never"))
        return policy.calendar.closed_reason(plan, now) is None

    def capture(self, camera: str, trigger: str, ref: str) -> str:
        """Ask ``camera`` for a frame in the background; returns the evidence id it will have."""
        evidence_id = new_id(camera, self.clock())
        self.router.execute_soon(
            CaptureEvidence(target=camera, evidence_id=evidence_id, trigger=trigger, ref=ref)
        )
        return evidence_id


@dataclass
class Cameras:
    """The evidence store, the cameras' own loop, and one driver per camera."""

    store: EvidenceStore
    loop: CameraLoop
    drivers: list[OffLoopDriver]


def build(config: Config, clock: Callable[[], datetime]) -> Cameras:
    """The site's camera drivers, on a loop of their own."""
    cams = config.cameras
    store = EvidenceStore(cams.store_path, int(cams.store_mb * MB), int(cams.max_frame_mb * MB))
    loop = CameraLoop()
    drivers = [OffLoopDriver(CameraDriver(c, store, clock=clock), loop) for c in cams.devices]
    return Cameras(store, loop, drivers)
