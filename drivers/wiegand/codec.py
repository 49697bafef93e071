"""Wiegand frame decoding and encoding, driven by the format table in ``formats.toml``.

A frame is ``(value, nbits)``: the bits as an integer, first bit on the wire most
significant. ``decode`` tries the reader's enabled formats of that length in order; the
first whose parity holds wins. A length no enabled format has is returned raw, so that a
site can still enrol an unusual card. A known length whose parity fails is a bad read.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

MIN_BITS = 4
MAX_BITS = 128


class BadFrame(ValueError):
    """A frame failed a length or parity check. ``reason`` is a stable short code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True, slots=True)
class ParityRule:
    bit: int
    kind: Literal["even", "odd"]
    mask: int  # positions covered, as a mask over the frame's value


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    bits: int
    number: tuple[int, int]  # first position, length
    facility: tuple[int, int] | None
    parity: tuple[ParityRule, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Card:
    format: str
    facility: int | None
    number: int
    bits: int


def _pos_mask(nbits: int, positions: list[int]) -> int:
    mask = 0
    for p in positions:
        mask |= 1 << (nbits - 1 - p)
    return mask


def _range(spec: str) -> tuple[int, int]:
    first, _, last = spec.partition("-")
    a, b = int(first), int(last or first)
    return a, b - a + 1


def _parse_format(name: str, raw: dict[str, Any]) -> Format:
    nbits = int(raw["bits"])
    rules = []
    for rule in raw.get("parity", []):
        positions: list[int] = []
        for spec in rule["over"]:
            first, length = _range(spec)
            span = range(first, first + length)
            if "every" in rule:
                n, keep = rule["every"]
                span = [p for p in span if (p - first) % n in keep]  # type: ignore[assignment]
            positions.extend(span)
        rules.append(ParityRule(int(rule["bit"]), rule["kind"], _pos_mask(nbits, positions)))
    return Format(
        name=name,
        bits=nbits,
        number=_range(raw["number"]),
        facility=_range(raw["facility"]) if "facility" in raw else None,
        parity=tuple(rules),
        description=raw.get("description", ""),
    )


@cache
def builtin_formats() -> dict[str, Format]:
    text = resources.files("drivers.wiegand").joinpath("formats.toml").read_text()
    return {name: _parse_format(name, raw) for name, raw in tomllib.loads(text).items()}


def _field(value: int, nbits: int, span: tuple[int, int]) -> int:
    first, length = span
    return (value >> (nbits - first - length)) & ((1 << length) - 1)


def _bit(value: int, nbits: int, pos: int) -> int:
    return (value >> (nbits - 1 - pos)) & 1


def _parity_ok(value: int, fmt: Format) -> bool:
    for rule in fmt.parity:
        ones = (value & rule.mask).bit_count() + _bit(value, fmt.bits, rule.bit)
        if (ones % 2 == 0) != (rule.kind == "even"):
            return False
    return True


def decode(value: int, nbits: int, formats: tuple[Format, ...]) -> Card:
    """Decode one frame with the given formats; raise BadFrame if it cannot be trusted."""
    if not MIN_BITS <= nbits <= MAX_BITS:
        raise BadFrame("bit_count", f"{nbits} bits is outside {MIN_BITS}-{MAX_BITS}")
    if value < 0 or value >> nbits:
        raise BadFrame("bit_count", f"value does not fit in {nbits} bits")
    candidates = [f for f in formats if f.bits == nbits]
    if not candidates:
        return Card(format=f"raw{nbits}", facility=None, number=value, bits=nbits)
    for fmt in candidates:
        if _parity_ok(value, fmt):
            facility = _field(value, nbits, fmt.facility) if fmt.facility else None
            return Card(fmt.name, facility, _field(value, nbits, fmt.number), nbits)
    raise BadFrame("parity", f"{nbits}-bit frame {value:x} fails parity for {candidates[0].name}")


def encode(fmt: Format, facility: int | None, number: int) -> int:
    """Build the frame for a card, with parity bits set. Raise ValueError if it won't fit."""
    value = 0
    fields = [(fmt.number, number)]
    if fmt.facility:
        fields.append((fmt.facility, facility or 0))
    elif facility:
        raise ValueError(f"format {fmt.name} has no facility code")
    for (first, length), v in fields:
        if not 0 <= v < 1 << length:
            raise ValueError(f"{v} does not fit in {length} bits of {fmt.name}")
        value |= v << (fmt.bits - first - length)
    for rule in fmt.parity:
        ones = (value & rule.mask).bit_count()
        want_one = (ones % 2 == 0) != (rule.kind == "even")
        if want_one:
            value |= 1 << (fmt.bits - 1 - rule.bit)
    return value


def select(names: tuple[str, ...]) -> tuple[Format, ...]:
    """The formats a reader enables, by name; raise KeyError naming an unknown one."""
    table = builtin_formats()
    unknown = [n for n in names if n not in table]
    if unknown:
        raise KeyError(f"unknown Wiegand format(s) {unknown}; known: {sorted(table)}")
    return tuple(table[n] for n in names)


# Cards read by devices that decode them themselves (an intercom's own reader reports the
# card number, no Wiegand frame): the format names the source and is never an alias of a
# Wiegand format, so the same digits read another way are another card.
DEVICE_FORMATS = {"intercom": 64}


def field_widths(name: str) -> tuple[int | None, int]:
    """(facility bits or None, number bits) of a format by name, ``raw<bits>`` included;
    raise KeyError naming the known formats."""
    fmt = builtin_formats().get(name)
    if fmt is not None:
        return (fmt.facility[1] if fmt.facility else None), fmt.number[1]
    if name in DEVICE_FORMATS:
        return None, DEVICE_FORMATS[name]
    bits = name.removeprefix("raw")
    if name.startswith("raw") and bits.isdigit() and MIN_BITS <= int(bits) <= MAX_BITS:
        return None, int(bits)
    raise KeyError(
        f"unknown Wiegand format {name!r}; known: {', '.join(sorted(builtin_formats()))}, "
        f"{', '.join(DEVICE_FORMATS)}, or raw<bits> ({MIN_BITS}-{MAX_BITS})"
    )
