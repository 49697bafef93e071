"""Prometheus metrics for the spine, and their HTTP endpoint."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

DECISIONS = Counter(
    "edgectl_access_decisions_total",
    "Access decisions by outcome and reason",
    ["granted", "reason"],
)
DECISION_SECONDS = Histogram(
    "edgectl_access_decision_seconds",
    "Time from a credential event to its decision and actuation being dispatched",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.1),
)
BAD_READS = Counter("edgectl_bad_reads_total", "Reader frames rejected", ["reader", "reason"])
TASK_RESTARTS = Counter(
    "edgectl_task_restarts_total",
    "Restarts of supervised tasks (drivers, sync, retention, MQTT, door timers) after a crash",
    ["task"],
)


async def _handle(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve(host: str, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/metrics", _handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
