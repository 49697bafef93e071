"""Card numbers in SQLite: a raw credential may have up to 128 bits, an INTEGER only 64.

A number that fits a signed 64-bit INTEGER is stored as one (every card of a named format
does); a larger one as a 16-byte big-endian BLOB, which SQLite never converts (a TEXT in
an INTEGER column would turn into a lossy REAL). A value and its stored form map one to
one, so ``number = ?`` with ``stored(n)`` finds it through the same index.
"""

from __future__ import annotations

MAX_INTEGER = (1 << 63) - 1
BLOB_BYTES = 16


def stored(number: int) -> int | bytes:
    return number if number <= MAX_INTEGER else number.to_bytes(BLOB_BYTES, "big")


def loaded(value: int | bytes | None) -> int | None:
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    return value
