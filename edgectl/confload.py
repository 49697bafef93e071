"""Turn parsed TOML into typed, frozen dataclasses, with errors that name the key.

Each config section is a frozen dataclass; its type hints are the schema. Unknown keys,
wrong types and bad values raise ``ConfigError`` naming the file, the dotted key path and
what was expected.

Rules every section gets without writing them:

- a number is finite: ``nan`` and ``inf`` are refused everywhere;
- a field may carry ``field(metadata={"hint": ...})``, added to a wrong-type error (the
  usual mistake and its fix, e.g. a TCP port written where a serial device goes);
- a field whose name ends in a unit (``_s``, ``_ms``, ``_mb``, ``_days``, ``_bytes``) is a
  duration, a size or a budget and may not be negative; a field can ask for the same with
  ``field(metadata={"min": 0})``;
- an error inside a nested table names the inner key (``doors[0].relay.coil``), also when
  the table is optional;
- a file must be UTF-8 (a UTF-8 byte order mark is allowed); another encoding, or a
  UTF-16/32 byte order mark, is named in the error;
- a value nested too deeply is an error, not a crash.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
import reprlib
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from edgectl.domain import Invalid

__all__ = ["ConfigError", "Invalid", "build"]

T = TypeVar("T")

UNIT_SUFFIXES = ("_s", "_ms", "_mb", "_days", "_bytes")
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32 (little-endian)"),
    (codecs.BOM_UTF32_BE, "UTF-32 (big-endian)"),
    (codecs.BOM_UTF16_LE, "UTF-16 (little-endian)"),
    (codecs.BOM_UTF16_BE, "UTF-16 (big-endian)"),
)
_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = _repr.maxother = 80


class ConfigError(Exception):
    """A config file is invalid. ``str()`` names the file, the key and what was expected."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.file}: {key}: {problem}" if key else f"{self.file}: {problem}")


def show(value: Any) -> str:
    """A value for an error message: short, and safe however deeply it nests."""
    return _repr.repr(value)


def decode(data: bytes, file: Path | str) -> str:
    """The text of a config file, which must be UTF-8; raise ConfigError naming the problem."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ConfigError(
                file,
                "",
                f"the file is {name}: it starts with a byte order mark "
                f"({bom.hex(' ').upper()}); expected UTF-8: save it as UTF-8",
            )
    if b"\0" in data:
        raise ConfigError(
            file, "", "the file holds NUL bytes (UTF-16 without a byte order mark?); expected UTF-8"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            file,
            "",
            f"not UTF-8: byte 0x{data[exc.start]:02X} at line {line}, column {column} "
            "(Latin-1 or GBK?); expected UTF-8: save it as UTF-8",
        ) from None
    return text


def parse_toml(text: str, file: Path | str) -> dict[str, Any]:
    """Parse TOML text; raise ConfigError for bad TOML or a value nested too deeply."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(file, "", "a value is nested too deeply to be a config") from None


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
        raise ConfigError(file, key, f"expected {_type_name(tp)}, got {show(value)}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(file, key, f"expected {_type_name(tp)}, got {show(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected {_type_name(tp)}, got {show(value)}")
        (item_tp, _) = (*get_args(tp), ...)[:2]
        return tuple(_convert(item_tp, v, file, f"{key}[{i}]") for i, v in enumerate(value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a table, got {show(value)}")
        return build(tp, value, file, key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(file, key, f"expected a number, got {show(value)}")
        if not math.isfinite(value):
            raise ConfigError(file, key, f"expected a finite number, got {value}")
        return float(value)
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(file, key, f"expected an integer, got {show(value)}")
    if tp in (str, bool, int) and not isinstance(value, tp):
        raise ConfigError(file, key, f"expected {_type_name(tp)}, got {show(value)}")
    return value


def _check_min(f: dataclasses.Field[Any], value: Any, file: Path, key: str) -> None:
    low = f.metadata.get("min", 0 if f.name.endswith(UNIT_SUFFIXES) else None)
    if low is None or isinstance(value, bool) or not isinstance(value, int | float):
        return
    if value < low:
        raise ConfigError(file, key, f"expected {low} or more, got {value}")


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
        try:
            kwargs[key] = _convert(hints[key], value, file, path)
        except ConfigError as exc:
            hint = fields[key].metadata.get("hint")
            if hint and exc.key == path:
                raise ConfigError(file, path, f"{exc.problem}; {hint}") from None
            raise
        _check_min(fields[key], kwargs[key], file, path)
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
