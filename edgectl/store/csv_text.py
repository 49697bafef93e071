"""Reading a CSV file someone made in a spreadsheet: its encoding, and rows that are too big.

Accepted: UTF-8 (with or without a byte order mark), UTF-16 with a byte order mark, and
GB18030 (what Excel writes on Chinese Windows; GBK is a subset) when asked for by name. A
byte order mark decides the encoding; without one the file is read as the encoding asked
for, UTF-8 by default. Bytes that are not text in that encoding, a NUL, or a field over
``MAX_FIELD`` are a ``TextError`` naming the physical line, not a traceback.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_FIELD = 128 * 1024
ENCODINGS = {"auto": "utf-8", "utf-8": "utf-8", "utf-16": "utf-16", "gb18030": "gb18030"}
ALIASES = {"utf8": "utf-8", "utf16": "utf-16", "gbk": "gb18030", "gb2312": "gb18030"}
_BOMS = (
    (codecs.BOM_UTF32_LE, None, "UTF-32"),
    (codecs.BOM_UTF32_BE, None, "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


class TextError(ValueError):
    """The file cannot be read as CSV text; ``line`` is the physical line (1-based)."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


def codec_for(path: Path, encoding: str = "auto") -> str:
    """The Python codec to read ``path`` with; raise TextError if the choice is wrong."""
    name = ALIASES.get(encoding.lower(), encoding.lower())
    if name not in ENCODINGS:
        raise TextError(1, f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    with path.open("rb") as f:
        head = f.read(4)
    for bom, codec, label in _BOMS:
        if head.startswith(bom):
            if codec is None:
                raise TextError(1, f"the file is {label}; save it as UTF-8 or UTF-16")
            if name not in ("auto", codec.removesuffix("-sig")):
                raise TextError(1, f"the file starts with a {label} byte order mark, not {name}")
            return codec
    return ENCODINGS[name]


def _lines(f: Iterator[str], codec: str) -> Iterator[str]:
    for number, text in enumerate(f, start=1):
        bad = next((c for c in text if "\udc80" <= c <= "\udcff" or c == "\0"), None)
        if bad == "\0":
            raise TextError(number, "a NUL byte: this is not a text file (or UTF-16 without BOM)")
        if bad is not None:
            hint = (
                "" if codec == "gb18030" else " (from Excel on Chinese Windows? --encoding gb18030)"
            )
            raise TextError(
                number, f"byte 0x{ord(bad) - 0xDC00:02X} is not {codec.upper()} text{hint}"
            )
        yield text


class Rows:
    """A csv.reader whose errors are TextError naming the line; ``line_num`` as csv's."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._reader = csv.reader(lines)

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> Rows:
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self._reader)
        except csv.Error as exc:
            line = self._reader.line_num
            if "field limit" in str(exc):
                raise TextError(line, f"a field is longer than {MAX_FIELD // 1024} KiB") from None
            raise TextError(line, f"not valid CSV: {exc}") from None


@contextmanager
def csv_rows(path: Path, encoding: str = "auto") -> Iterator[Rows]:
    """The rows of ``path``, read as ``encoding`` (see the module docstring)."""
    codec = codec_for(path, encoding)
    csv.field_size_limit(MAX_FIELD)
    with path.open(newline="", encoding=codec, errors="surrogateescape") as f:
        yield Rows(_lines(f, codec))
