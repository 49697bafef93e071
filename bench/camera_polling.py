"""Motion polling cost: 16 cameras without PullPoint, picture checked and polled once a second.

Sixteen ``CameraDriver``s connect to sixteen simulated 640x360 cameras that offer no
PullPoint (in another process, so their JPEG encoding is not ours). Two configurations
run in turn against the same cameras, each for ``--windows`` windows:

- ``health``: picture health checks only (``events = false``), as before issue 14's
  fallback;
- ``polling``: health checks and motion polling, both at 1/s (the defaults).

Each window records this process's CPU time as a share of one core, and the frames
fetched per camera per second (health and polling share frames: about 1.0, not 2.0).
Figures are medians over the windows.

    python bench/camera_polling.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.cameras import Watch, camera_process, settings  # noqa: E402
from bench.report import machine, report  # noqa: E402
from drivers.onvif.driver import CameraDriver  # noqa: E402
from edgectl.store.evidence import EvidenceStore  # noqa: E402

CAMERAS = 16


def fetched(drivers: list[CameraDriver]) -> int:
    return sum(d._feed.fetched for d in drivers if d._feed is not None)  # the bench peeks


async def windows(
    ports: list[int], events: bool, count: int, window_s: float, directory: Path
) -> tuple[list[float], list[float]]:
    """CPU shares of one core and frames per camera-second, one of each per window."""
    store = EvidenceStore(directory / f"events-{events}", 64 * 1024 * 1024, 5 * 1024 * 1024)
    drivers = [CameraDriver(settings(p, i, events=events), store) for i, p in enumerate(ports)]
    watches = [Watch() for _ in drivers]
    tasks = [asyncio.create_task(d.run(w.emit)) for d, w in zip(drivers, watches, strict=True)]
    shares: list[float] = []
    rates: list[float] = []
    try:
        await asyncio.wait_for(asyncio.gather(*(w.online.wait() for w in watches)), 60)
        await asyncio.sleep(5)  # baselines learned, references stored: steady state
        for _ in range(count):
            cpu0, wall0, frames0 = time.process_time(), time.perf_counter(), fetched(drivers)
            await asyncio.sleep(window_s)
            wall = time.perf_counter() - wall0
            shares.append((time.process_time() - cpu0) / wall)
            rates.append((fetched(drivers) - frames0) / wall / len(drivers))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return shares, rates


async def measure(quick: bool) -> dict[str, Any]:
    count, window_s = (3, 10.0) if quick else (7, 30.0)
    figures: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="edgectl-bench-polling-") as tmp,
        camera_process(CAMERAS, pullpoint=False) as ports,
    ):
        for name, events in (("health", False), ("polling", True)):
            shares, rates = await windows(ports, events, count, window_s, Path(tmp))
            figures[f"{name}_cpu_share_16_median"] = round(statistics.median(shares), 4)
            figures[f"{name}_cpu_share_16_max"] = round(max(shares), 4)
            figures[f"{name}_frames_per_camera_s"] = round(statistics.median(rates), 3)
    figures["windows"], figures["window_s"] = count, window_s
    figures["machine"] = machine()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.quick))
    report(figures, args.json)


if __name__ == "__main__":
    main()
