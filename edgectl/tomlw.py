"""A small TOML writer for the configs the simulator and tests generate."""

from __future__ import annotations

import json
from typing import Any


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dumps(data: dict[str, Any], prefix: str = "") -> str:
    lines: list[str] = []
    for key, v in data.items():
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{key} = {value(v)}")
    for key, v in data.items():
        name = f"{prefix}{key}"
        if isinstance(v, dict):
            lines.append(f"\n[{name}]")
            lines.append(dumps(v, f"{name}.").strip("\n"))
        elif _is_table_array(v):
            for item in v:
                lines.append(f"\n[[{name}]]")
                lines.append(dumps(item, f"{name}.").strip("\n"))
    return "\n".join(line for line in lines if line != "") + "\n"
