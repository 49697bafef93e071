"""The Wiegand decoder and the converter's line protocol, property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.wiegand import codec
from drivers.wiegand.line import (
    Keys,
    WiegandFrame,
    encode_frame,
    encode_keys,
    parse_line,
    shown,
)

FORMATS = codec.builtin_formats()
ENABLED = codec.select(("h10301", "wiegand34", "c1000", "h10304"))


@st.composite
def cards(draw: st.DrawFn) -> tuple[codec.Format, int | None, int]:
    fmt = draw(st.sampled_from([FORMATS[n] for n in ("h10301", "wiegand34", "c1000", "h10304")]))
    facility = draw(st.integers(0, (1 << fmt.facility[1]) - 1)) if fmt.facility else None
    number = draw(st.integers(0, (1 << fmt.number[1]) - 1))
    return fmt, facility, number


def test_known_h10301_vector() -> None:
    # Facility 1, card 1: even parity 1 (one 1 in bits 1-12), odd parity 0 (one 1 in 13-24)
    value = codec.encode(FORMATS["h10301"], 1, 1)
    assert value == 0b1_00000001_0000000000000001_0
    assert codec.decode(value, 26, ENABLED) == codec.Card("h10301", 1, 1, 26)


@given(cards())
def test_encode_decode_round_trip(card: tuple[codec.Format, int | None, int]) -> None:
    fmt, facility, number = card
    value = codec.encode(fmt, facility, number)
    decoded = codec.decode(value, fmt.bits, ENABLED)
    assert (decoded.format, decoded.facility, decoded.number) == (fmt.name, facility, number)


@given(cards(), st.data())
def test_single_bit_flip_is_caught_or_changes_card(
    card: tuple[codec.Format, int | None, int], data: st.DataObject
) -> None:
    fmt, facility, number = card
    value = codec.encode(fmt, facility, number)
    flipped = value ^ (1 << data.draw(st.integers(0, fmt.bits - 1)))
    try:
        decoded = codec.decode(flipped, fmt.bits, ENABLED)
    except codec.BadFrame as exc:
        assert exc.reason == "parity"
    else:
        assert (decoded.format, decoded.facility, decoded.number) != (fmt.name, facility, number)


@given(st.integers(4, 128).filter(lambda n: n not in (26, 34, 35, 37)), st.data())
def test_unknown_length_is_raw(nbits: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, (1 << nbits) - 1))
    assert codec.decode(value, nbits, ENABLED) == codec.Card(f"raw{nbits}", None, value, nbits)


def test_value_too_wide_is_bit_count_error() -> None:
    with pytest.raises(codec.BadFrame) as exc:
        codec.decode(1 << 26, 26, ENABLED)
    assert exc.value.reason == "bit_count"


@given(st.integers(1, 128), st.data())
def test_line_round_trip(nbits: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, (1 << nbits) - 1))
    line = encode_frame(value, nbits)
    assert line.endswith(b"\r\n")
    assert parse_line(line[:-2]) == WiegandFrame(value, nbits)


@given(st.text(alphabet="0123456789", min_size=1, max_size=16))
def test_keys_round_trip(digits: str) -> None:
    assert parse_line(encode_keys(digits)[:-2]) == Keys(digits)


@given(st.binary(max_size=80))
def test_parse_line_never_crashes(junk: bytes) -> None:
    try:
        parse_line(junk)
    except codec.BadFrame as exc:
        assert exc.reason in {"overlong", "framing", "checksum", "bit_count"}


@given(st.integers(1, 64), st.data())
def test_corrupted_line_is_rejected(nbits: int, data: st.DataObject) -> None:
    line = bytearray(encode_frame(data.draw(st.integers(0, (1 << nbits) - 1)), nbits)[:-2])
    pos = data.draw(st.integers(0, len(line) - 1))
    line[pos] ^= data.draw(st.integers(1, 127))
    try:
        msg = parse_line(bytes(line))
    except codec.BadFrame:
        return
    raise AssertionError(f"corrupted line {bytes(line)!r} parsed as {msg}")


def test_checksum_must_be_upper_case_hex_as_sent() -> None:
    # found by hypothesis: a case flip in the checksum itself must not pass
    with pytest.raises(codec.BadFrame) as exc:
        parse_line(b"W20:00000*5f")
    assert exc.value.reason == "checksum"


@given(st.binary(max_size=80))
def test_shown_line_is_printable_text(line: bytes) -> None:
    text = shown(line)
    assert text.isascii() and text.isprintable()
    if line[:1] != b"K" and all(0x20 <= b < 0x7F and b != 0x5C for b in line):
        assert text == line.decode()  # a printable line reads as itself, not as hex


@given(st.text("0123456789", min_size=1, max_size=16), st.binary(max_size=8))
def test_shown_keypad_line_never_shows_a_key(digits: str, tail: bytes) -> None:
    for line in (encode_keys(digits).rstrip(b"\r\n"), b"K" + digits.encode() + tail):
        assert shown(line) == f"K<{len(line) - 1} bytes hidden>"  # its length, no key
