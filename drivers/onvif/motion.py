"""Motion from frame differences, for a camera without PullPoint: pure, sans-I/O.

``prepare`` shrinks and blurs a greyscale frame, so sensor noise and JPEG artefacts do
not count; ``changed_share`` is the share of pixels whose blurred grey level changed by
more than ``pixel_threshold`` between two prepared frames. ``check`` takes the detector's
state, one prepared frame and the (monotonic) time, and returns the new state and the
changes: motion begins on a frame that differs from the one before by at least
``area_threshold`` of the picture, and ends after ``quiet_s`` without such a frame
(hysteresis: a busy scene is one motion, not one per frame). It reads no clock and does
no I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import cv2
import numpy as np

from drivers.onvif.health import Grey
from drivers.onvif.settings import MotionSettings

WORK = (160, 90)  # width, height the frames are compared at
BLUR = (5, 5)
NAME = "Frame difference"  # the camera_event's name, as onvif-parsers names its rules
TOPIC = "edgectl:FrameDifference/Motion"  # not an ONVIF topic: the driver's own polling


@dataclass(frozen=True, slots=True)
class MotionChange:
    active: bool  # motion began (True) or ended (False)
    share: float  # the changed share of the picture in the frame that decided it


@dataclass(frozen=True, slots=True)
class MotionState:
    active: bool = False
    last_motion_s: float | None = None  # when a frame last changed enough
    previous: Grey | None = field(default=None, compare=False)


def prepare(grey: Grey) -> Grey:
    small = cv2.resize(grey, WORK, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, BLUR, 0), dtype=np.uint8)


def changed_share(a: Grey, b: Grey, pixel_threshold: int) -> float:
    """The share (0-1) of pixels that differ by more than ``pixel_threshold`` grey levels."""
    diff = cv2.absdiff(a, b)
    _, mask = cv2.threshold(diff, pixel_threshold, 255, cv2.THRESH_BINARY)
    return float(cv2.countNonZero(mask)) / float(mask.size)


def decide(
    state: MotionState, share: float, now_s: float, s: MotionSettings
) -> tuple[MotionState, list[MotionChange]]:
    """One frame's changed ``share`` at ``now_s``: begin, end (after the quiet time) or nothing."""
    moving = share >= s.area_threshold
    last = now_s if moving else state.last_motion_s
    if moving and not state.active:
        return dataclasses.replace(state, active=True, last_motion_s=last), [
            MotionChange(True, share)
        ]
    if state.active and last is not None and now_s - last >= s.quiet_s:
        return dataclasses.replace(state, active=False, last_motion_s=last), [
            MotionChange(False, share)
        ]
    return dataclasses.replace(state, last_motion_s=last), []


def check(
    state: MotionState, frame: Grey, now_s: float, s: MotionSettings
) -> tuple[MotionState, list[MotionChange]]:
    """One prepared frame at ``now_s``, compared with the one before (the first only primes)."""
    previous = state.previous
    changes: list[MotionChange] = []
    if previous is not None and previous.shape == frame.shape:
        share = changed_share(previous, frame, s.pixel_threshold)
        state, changes = decide(state, share, now_s, s)
    return dataclasses.replace(state, previous=frame), changes
