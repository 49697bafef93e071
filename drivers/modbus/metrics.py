"""Prometheus counters for the RS-485/Modbus layer, labelled by bus and unit."""

from __future__ import annotations

from prometheus_client import Counter

TRANSACTIONS = Counter(
    "edgectl_modbus_transactions",
    "Modbus transactions by outcome: ok, timeout, crc, truncated, wrong_unit, exception, garbage, error",
    ["bus", "unit", "outcome"],
)
BUS_SECONDS = Counter(
    "edgectl_modbus_bus_seconds",
    "Seconds of bus time spent on transactions with a unit",
    ["bus", "unit"],
)


def count(bus: str, unit: int, outcome: str, seconds: float) -> None:
    TRANSACTIONS.labels(bus, str(unit), outcome).inc()
    BUS_SECONDS.labels(bus, str(unit)).inc(seconds)
