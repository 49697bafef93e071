"""Camera benchmarks: evidence latency, health-check CPU, and the swipe path beside 16 cameras.

1. **Evidence latency** (snapshot path and RTSP path): a ``CameraDriver`` connected to a
   simulated ONVIF camera (in a separate process, so its JPEG encoding is not ours) is
   asked for a frame as the site does after an access decision (a background task); the
   time from the request to ``evidence_captured`` (frame fetched, checked and stored in
   the evidence store on disk) is recorded, 100 (quick) or 500 requests 50-150 ms apart.
   The RTSP path is the warm stream (``grab = "stream"``): OpenCV/FFmpeg reading the
   simulated camera's RTSP stream (RTP/JPEG over TCP, 25 fps); a request waits for the
   next decoded frame and encodes it as JPEG. ``evidence_*_cpu_share``: this process's
   CPU time over the sampling, per wall second (for the RTSP path, mostly the decoder
   that keeps the stream warm).
2. **Health-check CPU**: 16 drivers, each checking its camera's 640x360 picture once a
   second (snapshot, decode, measures, fault tracking) with PullPoint events and
   keep-alives running; this process's CPU time over ``--window`` seconds, as a share of
   one core. The simulated cameras run in another process.
3. **Access path with cameras**: ``bench/access_path.py``'s measurement with 16 simulated
   cameras in the compound, the daemon (``edgectl run``) checking them all; its journal
   also gives decision -> frame stored latency for the gate camera.

    python bench/cameras.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import access_path  # noqa: E402
from bench.report import machine, report  # noqa: E402
from drivers.base import DeviceError  # noqa: E402
from drivers.onvif.driver import CameraDriver  # noqa: E402
from drivers.onvif.settings import Camera, HealthSettings  # noqa: E402
from drivers.sim.camera import SimCamera  # noqa: E402
from edgectl.domain import CaptureEvidence, Event, EvidenceCaptured  # noqa: E402
from edgectl.store.evidence import EvidenceStore, new_id  # noqa: E402

TARGET_EVIDENCE_P99_MS = 300.0
TARGET_HEALTH_SHARE = 0.25


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


async def serve(count: int, pullpoint: bool = True) -> None:
    """Child process: ``count`` simulated cameras; prints their ports, runs until killed."""
    sims = [SimCamera() for _ in range(count)]
    for sim in sims:
        sim.pullpoint = pullpoint
        await sim.start()
    print(json.dumps([s.port for s in sims]), flush=True)
    await asyncio.Event().wait()


@contextlib.contextmanager
def camera_process(count: int, pullpoint: bool = True) -> Any:
    flags = [] if pullpoint else ["--no-pullpoint"]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(count), *flags],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(10)


class Watch:
    def __init__(self) -> None:
        self.done: dict[str, float] = {}
        self.online = asyncio.Event()

    def emit(self, event: Event) -> None:
        if isinstance(event, EvidenceCaptured):
            self.done[event.evidence_id] = time.perf_counter()
        elif event.KIND == "device_online":
            self.online.set()


def settings(port: int, n: int, **over: Any) -> Camera:
    return Camera(
        id=f"cam{n}", host="127.0.0.1", port=port, username="admin", password="secret", **over
    )


def evidence_request(evidence_id: str = "") -> CaptureEvidence:
    evidence_id = evidence_id or new_id("cam0", datetime.now(UTC))
    return CaptureEvidence(target="cam0", evidence_id=evidence_id, trigger="access", ref="b")


async def warm_up(driver: CameraDriver, frames: int = 5) -> None:
    """The first frames: the HTTP connection pool, or the RTSP stream opening (FFmpeg
    probes about a second of it), before anything is timed."""
    stored = 0
    async with asyncio.timeout(60):
        while stored < frames:
            try:
                await driver.execute(evidence_request())
                stored += 1
            except DeviceError:
                await asyncio.sleep(0.2)


async def evidence_latency(
    port: int, grab: str, samples: int, directory: Path
) -> tuple[list[float], float]:
    """Latencies (ms), and this process's CPU share of one core while they were taken."""
    store = EvidenceStore(directory / grab, 512 * 1024 * 1024, 5 * 1024 * 1024)
    cfg = settings(port, 0, grab=grab, events=False, health=HealthSettings(enabled=False))
    driver, watch = CameraDriver(cfg, store), Watch()
    task = asyncio.create_task(driver.run(watch.emit))
    latencies: list[float] = []
    try:
        await asyncio.wait_for(watch.online.wait(), 30)
        assert driver.info is not None
        if grab == "stream":  # the path must be real RTSP, not some other stream
            assert (driver.info.stream_uri or "").startswith("rtsp://"), driver.info.stream_uri
        await warm_up(driver)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(samples):
            evidence_id = new_id("cam0", datetime.now(UTC))
            started = time.perf_counter()
            # a background task, as Router.execute_soon runs it
            await asyncio.create_task(driver.execute(evidence_request(evidence_id)))
            latencies.append((watch.done[evidence_id] - started) * 1000)
            await asyncio.sleep(0.05 + (i % 10) / 100)
        share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return latencies, share


async def health_share(ports: list[int], window_s: float, directory: Path) -> dict[str, float]:
    store = EvidenceStore(directory / "health", 64 * 1024 * 1024, 5 * 1024 * 1024)
    drivers = [CameraDriver(settings(p, i), store) for i, p in enumerate(ports)]
    watches = [Watch() for _ in drivers]
    tasks = [asyncio.create_task(d.run(w.emit)) for d, w in zip(drivers, watches, strict=True)]
    try:
        await asyncio.wait_for(asyncio.gather(*(w.online.wait() for w in watches)), 60)
        await asyncio.sleep(5)  # baselines learned, references stored: steady state
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"health_cpu_share_16": round(cpu / wall, 4), "health_window_s": round(wall, 1)}


def decision_to_frame_ms(db: Path) -> list[float]:
    """From the daemon's journal: decision -> frame stored, for each access frame.

    The evidence id starts with the time the frame was asked for, which the site does as it
    records the decision; ``evidence_captured.at`` is taken after the frame is stored.
    """
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT at, body FROM journal WHERE kind = 'evidence_captured'"
        ).fetchall()
    finally:
        conn.close()
    out = []
    for at, body in rows:
        doc = json.loads(body)
        if doc.get("trigger") == "access":
            asked = datetime.strptime(doc["evidence_id"][:22], "%Y%m%dT%H%M%S%fZ")
            stored = datetime.fromisoformat(at)
            out.append((stored - asked.replace(tzinfo=UTC)).total_seconds() * 1000)
    return out


async def measure(quick: bool) -> dict[str, Any]:
    samples = 100 if quick else 500
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="edgectl-bench-cams-") as tmp:
        directory = Path(tmp)
        with camera_process(1) as ports:
            for grab, path in (("snapshot", "snapshot"), ("stream", "rtsp")):
                lat, share = await evidence_latency(ports[0], grab, samples, directory)
                figures[f"evidence_{path}_p50_ms"] = round(statistics.median(lat), 2)
                figures[f"evidence_{path}_p99_ms"] = round(p99(lat), 2)
                figures[f"evidence_{path}_cpu_share"] = round(share, 4)
        figures["evidence_p99_ms"] = figures["evidence_snapshot_p99_ms"]
        figures["evidence_samples"] = samples
        with camera_process(16) as ports:
            figures.update(await health_share(ports, 15.0 if quick else 60.0, directory))
        db = directory / "access.db"
        with camera_process(16) as ports:
            access = await access_path.measure(
                10_000 if quick else 100_000, 200 if quick else 1000, 0.0, tuple(ports), keep=db
            )
        figures["access_p50_ms_with_cameras"] = access["p50_ms"]
        figures["access_p99_ms_with_cameras"] = access["p99_ms"]
        figures["access_limit_p99_ms"] = access["limit_p99_ms"]
        daemon_lat = decision_to_frame_ms(db)
        if daemon_lat:
            figures["daemon_decision_to_frame_p50_ms"] = round(statistics.median(daemon_lat), 2)
            figures["daemon_decision_to_frame_p99_ms"] = round(p99(daemon_lat), 2)
            figures["daemon_frames"] = len(daemon_lat)
    figures["target_evidence_p99_ms"] = TARGET_EVIDENCE_P99_MS
    figures["target_health_cpu_share_16"] = TARGET_HEALTH_SHARE
    figures["machine"] = machine()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-pullpoint", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.serve, not args.no_pullpoint))
        return
    figures = asyncio.run(measure(args.quick))
    report(figures, args.json)


if __name__ == "__main__":
    main()
