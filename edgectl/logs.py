"""Logging through structlog: readable on a TTY, syslog-prefixed lines under journald, JSON lines
for other pipes.

Under systemd, stderr is the journal's stream and ``JOURNAL_STREAM`` names it (``dev:inode``).
There each record is one plain ``event key=value`` line behind a ``<N>`` syslog priority
prefix, which journald strips and stores as the priority: ``journalctl -p warning`` then
shows the warnings, and the lines read well in ``journalctl -u edgectl``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# syslog priorities (RFC 5424) for the levels structlog adds
PRIORITY = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}


def under_journald(stream: TextIO, env: dict[str, str] | None = None) -> bool:
    """True when ``stream`` is the journal stream systemd handed this process."""
    named = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    dev, _, ino = named.partition(":")
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (ValueError, OSError):
        return False


def journald_line(_: Any, method: str, event: MutableMapping[str, Any]) -> str:
    """``<6>started site=compound-01 drivers=[...]``: one line, priority first."""
    level = str(event.pop("level", method))
    event.pop("timestamp", None)  # journald stamps every line itself
    text = str(event.pop("event", ""))
    fields = " ".join(f"{k}={v}" for k, v in event.items())
    line = f"{text} {fields}" if fields else text
    return f"<{PRIORITY.get(level, 6)}>" + line.replace("\n", "\\n")


def setup(level: str = "info", *, json: bool | None = None) -> None:
    renderer: structlog.types.Processor
    if json is None and under_journald(sys.stderr):
        renderer = journald_line
    elif json if json is not None else not sys.stderr.isatty():
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
