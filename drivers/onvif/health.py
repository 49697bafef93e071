"""Camera picture health: pure image measures and a pure fault tracker.

Measures (on a greyscale frame): mean and spread of brightness (black or covered lens),
variance of the Laplacian (sharpness: defocus or a sprayed lens, judged against the
camera's own baseline), a small thumbnail for frozen-picture and moved-scene checks.
``check`` takes the tracker's state, one frame's measures and the time, and returns the
new state and the faults that started or cleared; it reads no clock and does no I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from drivers.onvif.settings import HealthSettings

Grey = NDArray[np.uint8]
Thumb = NDArray[np.float32]
THUMB = (80, 45)  # width, height: 1/8 of 640x360
FROZEN_EPSILON = 0.05  # mean absolute difference (grey levels) below which frames are identical
BASELINE_FRAMES = 5


@dataclass(frozen=True, slots=True)
class Measures:
    mean: float
    stddev: float
    sharpness: float  # variance of the Laplacian
    thumb: Thumb


def measure(grey: Grey) -> Measures:
    mean, stddev = cv2.meanStdDev(grey)
    sharpness = cv2.Laplacian(grey, cv2.CV_64F).var()
    thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
    return Measures(float(mean[0][0]), float(stddev[0][0]), float(sharpness), thumb)


def difference(a: Thumb, b: Thumb) -> float:
    """Mean absolute difference in grey levels."""
    return float(np.mean(np.abs(a - b)))


def scene_distance(reference: Thumb, current: Thumb) -> float:
    """1 - normalised cross-correlation: 0 for the same scene, up to 2 for its negative."""
    a = reference - reference.mean()
    b = current - current.mean()
    norm = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    if norm < 1e-6:
        return 1.0  # a flat picture correlates with nothing
    return float(1.0 - np.sum(a * b) / norm)


@dataclass(frozen=True, slots=True)
class Change:
    fault: str  # frozen, black, defocus, moved
    active: bool
    measure: float
    threshold: float


@dataclass(frozen=True, slots=True)
class HealthState:
    active: frozenset[str] = frozenset()
    streaks: tuple[tuple[str, int], ...] = ()  # consecutive checks disagreeing with `active`
    previous: Thumb | None = field(default=None, compare=False)
    same_since: float | None = None
    sharpness: tuple[float, ...] = ()  # healthy samples until the baseline is learned
    reference: Thumb | None = field(default=None, compare=False)

    @property
    def baseline(self) -> float | None:
        if len(self.sharpness) < BASELINE_FRAMES:
            return None
        return float(np.median(self.sharpness))


def check(
    state: HealthState, m: Measures, now_s: float, t: HealthSettings
) -> tuple[HealthState, list[Change]]:
    """One health check of one frame at monotonic time ``now_s``."""
    verdicts: dict[str, tuple[bool, float, float]] = {}  # fault -> (bad, measure, threshold)
    same = state.previous is not None and difference(state.previous, m.thumb) < FROZEN_EPSILON
    same_since = (state.same_since if state.same_since is not None else now_s) if same else None
    frozen_for = now_s - same_since if same_since is not None else 0.0
    verdicts["frozen"] = (frozen_for >= t.frozen_s, round(frozen_for, 1), t.frozen_s)
    black = m.mean < t.black_mean and m.stddev < t.black_stddev
    verdicts["black"] = (black, round(m.mean, 2), t.black_mean)
    sharpness, reference = state.sharpness, state.reference
    if not black:
        baseline = state.baseline
        if baseline is None:
            sharpness = (*sharpness, m.sharpness)
        else:
            ratio = m.sharpness / baseline if baseline > 0 else 1.0
            verdicts["defocus"] = (ratio < t.defocus_ratio, round(ratio, 3), t.defocus_ratio)
        if reference is None:
            reference = m.thumb
        else:
            distance = scene_distance(reference, m.thumb)
            verdicts["moved"] = (
                distance > t.moved_threshold,
                round(distance, 3),
                t.moved_threshold,
            )
    active, streaks = set(state.active), dict(state.streaks)
    changes: list[Change] = []
    for fault, (bad, value, threshold) in verdicts.items():
        if bad == (fault in active):
            streaks.pop(fault, None)
            continue
        needed = 1 if fault == "frozen" else t.confirm
        streaks[fault] = streaks.get(fault, 0) + 1
        if streaks[fault] >= needed:
            streaks.pop(fault)
            (active.add if bad else active.discard)(fault)
            changes.append(Change(fault, bad, value, threshold))
    new = dataclasses.replace(
        state,
        active=frozenset(active),
        streaks=tuple(sorted(streaks.items())),
        previous=m.thumb,
        same_since=same_since,
        sharpness=sharpness,
        reference=reference,
    )
    return new, changes
