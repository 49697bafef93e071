"""Prometheus counters for cameras, labelled by camera."""

from __future__ import annotations

from prometheus_client import Counter

FRAMES = Counter(
    "edgectl_camera_frames",
    "Evidence frames by outcome: stored, not_jpeg, too_large, timeout, auth, http_error, "
    "unreachable, refused",
    ["camera", "outcome"],
)
