"""Picture health math and the evidence store: pure functions, property-tested."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drivers.onvif import health
from drivers.onvif.events import classify
from drivers.onvif.settings import HealthSettings
from drivers.sim.camera_frames import encode_jpeg, render, scene
from edgectl.store.evidence import EvidenceRefused, EvidenceStore, new_id

SETTINGS = HealthSettings(frozen_s=3.0, confirm=2)
BASE = scene()
grey_images = arrays(np.uint8, st.tuples(st.integers(8, 60), st.integers(8, 60)))


@functools.cache
def measured(mode: str, counter: int) -> health.Measures:
    frame = render(BASE, mode, counter)  # type: ignore[arg-type]
    return health.measure(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))  # type: ignore[arg-type]


def run(modes: list[str], t0: float = 0.0) -> tuple[health.HealthState, list[health.Change]]:
    state, changes = health.HealthState(), []
    for i, mode in enumerate(modes):
        counter = 1 if mode == "frozen" else i + 2
        state, new = health.check(state, measured(mode, counter), t0 + i, SETTINGS)
        changes.extend(new)
    return state, changes


@given(grey_images)
def test_measures_are_finite_and_bounded(img: np.ndarray) -> None:
    m = health.measure(img)
    assert 0 <= m.mean <= 255 and 0 <= m.stddev <= 128 and m.sharpness >= 0
    assert m.thumb.shape == (health.THUMB[1], health.THUMB[0])


@given(grey_images)
def test_a_scene_is_at_distance_zero_from_itself(img: np.ndarray) -> None:
    thumb = health.measure(img).thumb
    assert health.scene_distance(thumb, thumb) == pytest.approx(0.0, abs=1e-4) or img.std() == 0
    assert 0.0 <= health.scene_distance(thumb, 255 - thumb) <= 2.0 + 1e-6


@given(st.lists(st.sampled_from(["normal", "black", "defocused", "moved"]), max_size=30))
def test_faults_alternate_start_and_clear(modes: list[str]) -> None:
    """Whatever the sequence, each fault's changes alternate active/cleared, starting active."""
    state, changes = run(["normal"] * 6 + modes)
    for fault in ("black", "defocus", "moved", "frozen"):
        flips = [c.active for c in changes if c.fault == fault]
        assert flips == [i % 2 == 0 for i in range(len(flips))]
        assert (fault in state.active) == (len(flips) % 2 == 1)


def test_each_fault_trips_with_its_measure_and_clears() -> None:
    normal = ["normal"] * 6
    _, changes = run([*normal, "black", "black", "normal", "normal"])
    black = [c for c in changes if c.fault == "black"]
    assert [c.active for c in black] == [True, False] and black[0].measure < 16
    _, changes = run([*normal, "defocused", "defocused", "normal", "normal"])
    defocus = [c for c in changes if c.fault == "defocus"]
    assert [c.active for c in defocus] == [True, False] and defocus[0].measure < 0.3
    _, changes = run([*normal, "moved", "moved"])
    moved = [c for c in changes if c.fault == "moved"]
    assert [c.active for c in moved] == [True] and moved[0].measure > 0.5
    _, changes = run([*normal, *["frozen"] * 5])
    assert [(c.fault, c.active) for c in changes] == [("frozen", True)]
    assert changes[0].measure >= SETTINGS.frozen_s
    assert not any(c.fault != "frozen" for c in changes)


def test_a_healthy_camera_raises_nothing() -> None:
    _, changes = run(["normal"] * 40)
    assert changes == []


@given(
    st.sampled_from(
        [
            "tns1:RuleEngine/CellMotionDetector/Motion",
            "tns1:Device/Trigger/DigitalInput",
            "tns1:RuleEngine/TamperDetector/Tamper",
            "tns1:RuleEngine/LineDetector/Crossed",
            "tns1:Foo/Bar",
        ]
    ),
    st.one_of(st.booleans(), st.text(max_size=8), st.none()),
)
def test_event_classification(topic: str, value: object) -> None:
    kind, active = classify(topic, None, value)
    assert kind in ("motion", "input", "tamper", "line", "other")
    if isinstance(value, bool):
        assert active is value
    if value in ("false", None, ""):
        assert active is False


JPEG = encode_jpeg(render(BASE, "normal", 1))


@given(st.lists(st.integers(1, 6), min_size=1, max_size=40))
def test_the_store_never_exceeds_its_budget_and_evicts_oldest_first(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int]
) -> None:
    path = tmp_path_factory.mktemp("evidence")
    budget = 4 * len(JPEG)
    store = EvidenceStore(path, budget, budget)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    written = []
    for i, copies in enumerate(sizes):
        frame = JPEG[:-2] + b"\x00" * (len(JPEG) * (copies - 1) // 2) + b"\xff\xd9"
        evidence_id = new_id("cam", t0 + timedelta(seconds=i))
        try:
            store.put(evidence_id, frame)
        except EvidenceRefused:
            assert len(frame) > budget
            continue
        written.append(evidence_id)
        on_disk = sum(p.stat().st_size for p in path.glob("*.jpg"))
        assert on_disk == store.used <= budget
        assert store.ids() == written[-len(store.ids()) :]  # the newest survive, in order
    assert EvidenceStore(path, budget, budget).ids() == store.ids()  # the folder is the index


def test_the_store_refuses_what_is_not_a_jpeg_and_counts_it(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, 10_000_000, 1_000_000)
    now = datetime.now(UTC)
    for bad in (b"<html>busy</html>", b"\xff\xd8\xff" + bytes(2_000_000)):
        with pytest.raises(EvidenceRefused):
            store.put(new_id("cam", now), bad)
    with pytest.raises(EvidenceRefused, match="bad evidence id"):
        store.put("../../etc/passwd", JPEG)
    assert store.refused == 3 and store.ids() == []
