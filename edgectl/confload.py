"""Turn parsed TOML into typed, frozen dataclasses, with errors that name the key.

Each config section is a frozen dataclass; its type hints are the schema. Unknown keys,
wrong types and bad values raise ``ConfigError`` naming the file, the dotted key path and
what was expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from edgectl.domain import Invalid

__all__ = ["ConfigError", "Invalid", "build"]

T = TypeVar("T")


class ConfigError(Exception):
    """A config file is invalid. ``str()`` names the file, the key and what was expected."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.file}: {key}: {problem}" if key else f"{self.file}: {problem}")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is tuple:
        return f"a list of {_type_name(get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    if tp is type(None):
        return "nothing"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(tp: Any, value: Any, file: Path, key: str) -> Any:
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, file, key)
            except ConfigError:
                if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                    raise  # the table is meant as this section: name the key inside it
                continue
        raise ConfigError(file, key, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(file, key, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected {_type_name(tp)}, got {value!r}")
        (item_tp, _) = (*get_args(tp), ...)[:2]
        return tuple(_convert(item_tp, v, file, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a table, got {value!r}")
        return build(tp, value, file, key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(file, key, f"expected a number, got {value!r}")
        return float(value)
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(file, key, f"expected an integer, got {value!r}")
    if tp in (str, bool, int) and not isinstance(value, tp):
        raise ConfigError(file, key, f"expected {_type_name(tp)}, got {value!r}")
    return value


def build(cls: type[T], data: dict[str, Any], file: Path, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; keys are checked against its fields."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if key not in fields:
            raise ConfigError(
                file, path, f"unknown key; expected one of: {', '.join(sorted(fields))}"
            )
        kwargs[key] = _convert(hints[key], value, file, path)
    for name, f in fields.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and (f.default_factory is dataclasses.MISSING)
        ):
            path = f"{prefix}.{name}" if prefix else name
            raise ConfigError(file, path, f"missing; expected {_type_name(hints[name])}")
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except Invalid as exc:
            path = f"{prefix}.{exc.key}" if prefix else exc.key
            raise ConfigError(file, path, exc.problem) from None
    return obj
