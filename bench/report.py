"""How a benchmark reports: each figure on a line of its own (on stderr with ``--json``),
then with ``--json`` one JSON object of the figures as the last line of stdout."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def report(figures: dict[str, Any], as_json: bool) -> None:
    width = max(map(len, figures), default=0)
    for key, value in figures.items():
        print(f"{key:>{width}}: {value}", file=sys.stderr if as_json else sys.stdout)
    if as_json:
        print(json.dumps(figures))
