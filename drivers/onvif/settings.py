"""Camera settings: the ``[cameras]`` table and its ``[[cameras.devices]]``.

Owned here, composed by ``edgectl/config.py``; see ``config.example.toml`` for every key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from edgectl.confload import Invalid


class Watched(Protocol):
    """A gate or door: it may name the camera that watches it."""

    @property
    def camera(self) -> str: ...


class Named(Protocol):
    @property
    def id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """Picture health checks; each fault is raised after ``confirm`` bad checks in a row."""

    enabled: bool = True
    interval_s: float = 1.0
    frozen_s: float = 10.0  # identical frames for this long: frozen
    black_mean: float = 16.0  # mean grey below this ...
    black_stddev: float = 8.0  # ... and spread below this: black or covered
    defocus_ratio: float = 0.3  # sharpness below this share of the learned baseline
    moved_threshold: float = 0.5  # 1 - correlation with the reference scene above this
    confirm: int = 3

    def validate(self) -> None:
        if self.interval_s <= 0 or self.frozen_s <= 0:
            raise Invalid("interval_s", "expected positive seconds")
        if not 0 < self.defocus_ratio < 1:
            raise Invalid("defocus_ratio", f"expected 0 < ratio < 1, got {self.defocus_ratio}")
        if not 0 < self.moved_threshold <= 2:
            raise Invalid("moved_threshold", f"expected 0 < x <= 2, got {self.moved_threshold}")
        if self.confirm < 1:
            raise Invalid("confirm", "expected at least 1")


@dataclass(frozen=True, slots=True)
class MotionSettings:
    """Motion from frame differences, for a camera without PullPoint (``motion.py``)."""

    poll_interval_s: float = 1.0  # a frame this often (shared with the health checks)
    area_threshold: float = 0.02  # changed share of the picture that is motion (0-1)
    pixel_threshold: int = 25  # grey levels a blurred pixel must change by to count
    quiet_s: float = 10.0  # motion ends after this long without a changed frame

    def validate(self) -> None:
        for key in ("poll_interval_s", "quiet_s"):
            if getattr(self, key) <= 0:
                raise Invalid(key, f"expected positive seconds, got {getattr(self, key)}")
        if not 0 < self.area_threshold < 1:
            raise Invalid("area_threshold", f"expected 0 < share < 1, got {self.area_threshold}")
        if not 0 < self.pixel_threshold < 255:
            raise Invalid(
                "pixel_threshold", f"expected 1-254 grey levels, got {self.pixel_threshold}"
            )


@dataclass(frozen=True, slots=True)
class PresetBinding:
    """Turn this (dome) camera to ``preset`` when ``target`` raises one of ``alarms``."""

    target: str  # a door or gate id
    preset: str  # the camera's preset token
    alarms: tuple[str, ...] = ("forced_open", "held_open")


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    host: str
    port: int = 80
    username: str = ""
    password: str = ""
    name: str = ""
    profile: str = ""  # media profile token; "" = the camera's first profile
    grab: Literal["auto", "snapshot", "stream"] = "auto"  # auto: snapshot URI if it has one
    timeout_s: float = 5.0  # per ONVIF call and per snapshot
    backoff_s: float = 1.0  # reconnect delay, doubling ...
    backoff_max_s: float = 60.0  # ... up to this
    auth_backoff_s: float = 300.0  # after refused credentials: never lock the account out
    keepalive_s: float = 15.0  # an authenticated call this often tells a lost camera
    ptz_max_move_s: float = 10.0  # a continuous move stops by itself after at most this
    events: bool = True  # the camera's events: PullPoint, else motion by polling frames
    armed_schedule: str = "never"  # motion/input in this schedule's periods raise an alarm
    presets: tuple[PresetBinding, ...] = ()
    health: HealthSettings = field(default_factory=HealthSettings)
    motion: MotionSettings = field(default_factory=MotionSettings)

    def validate(self) -> None:
        if not self.id or not all(c.isalnum() or c in "-_" for c in self.id):
            raise Invalid("id", f"expected letters, digits, '-' or '_', got {self.id!r}")
        if not self.host:
            raise Invalid("host", "expected the camera's host name or address")
        if not 0 < self.port < 65536:
            raise Invalid("port", f"expected a TCP port 1-65535, got {self.port}")
        for key in (
            "timeout_s",
            "backoff_s",
            "backoff_max_s",
            "auth_backoff_s",
            "keepalive_s",
            "ptz_max_move_s",
        ):
            if getattr(self, key) <= 0:
                raise Invalid(key, f"expected positive seconds, got {getattr(self, key)}")


@dataclass(frozen=True, slots=True)
class Cameras:
    store_path: str = "/var/lib/edgectl/evidence"
    store_mb: float = 256.0  # the evidence store never holds more; oldest frames go first
    max_frame_mb: float = 5.0  # a larger snapshot is refused and counted
    thumbnail_px: int = 320  # width of the thumbnails forwarded to the hub
    devices: tuple[Camera, ...] = ()

    def validate(self) -> None:
        if self.store_mb <= 0 or self.max_frame_mb <= 0:
            raise Invalid("store_mb", "expected a positive size in MB")
        if self.max_frame_mb > self.store_mb:
            raise Invalid("max_frame_mb", "expected at most store_mb")
        ids = Counter(c.id for c in self.devices)
        for i, cam in enumerate(self.devices):
            if ids[cam.id] > 1:
                raise Invalid(f"devices[{i}].id", f"duplicate camera id {cam.id!r}")

    def camera(self, camera_id: str) -> Camera | None:
        return next((c for c in self.devices if c.id == camera_id), None)

    def check_refs(
        self,
        devices: Mapping[str, str],
        watched: Mapping[str, Sequence[Watched]],
        targets: Collection[str],
        schedules: Sequence[Named],
    ) -> None:
        """Camera ids are new device ids; ``gates[].camera``/``doors[].camera`` name cameras;
        bindings name doors or gates; armed schedules name schedules (raise Invalid)."""
        for i, cam in enumerate(self.devices):
            if cam.id in devices:
                raise Invalid(
                    f"cameras.devices[{i}].id",
                    f"duplicate device id {cam.id!r} (also {devices[cam.id]})",
                )
        ids = [c.id for c in self.devices]
        for section, items in watched.items():
            for i, item in enumerate(items):
                if item.camera and item.camera not in ids:
                    raise Invalid(
                        f"{section}[{i}].camera", f"expected one of {ids}, got {item.camera!r}"
                    )
        known = {"always", "never", *(s.id for s in schedules)}
        for i, cam in enumerate(self.devices):
            if cam.armed_schedule not in known:
                raise Invalid(
                    f"cameras.devices[{i}].armed_schedule",
                    f"expected one of {sorted(known)}, got {cam.armed_schedule!r}",
                )
            for j, binding in enumerate(cam.presets):
                if binding.target not in targets:
                    raise Invalid(
                        f"cameras.devices[{i}].presets[{j}].target",
                        f"expected a door or gate id {sorted(targets)}, got {binding.target!r}",
                    )
