"""``edgectl sim --operations``: a patrol tour with a missed checkpoint and a gate fault
work order, accepted and escalated, on the simulated devices through the real daemon."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_helpers import edgectl


def test_sim_operations_tour_misses_a_checkpoint_and_a_gate_fault_escalates(
    tmp_path: Path,
) -> None:
    result = edgectl("sim", "--operations", "--dir", str(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    out = re.sub(r"\s+", " ", result.stdout)
    assert "patrol_checkpoint main-gate-in" in out  # the guard's card at the gate reader
    assert "checkpoint_missed tag-block-a-roof" in out
    assert "status=incomplete" in out and "missed=['tag-block-a-roof']" in out
    assert "workorder_created device" in out and "target=main-gate" in out
    assert "status=accepted" in out
    assert "stage=on_site level=0 to=eng-wang" in out
    assert "stage=on_site level=1 to=sup-chen" in out
    assert "status=done" in out and "note=device_recovered" in out
