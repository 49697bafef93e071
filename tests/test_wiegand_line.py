"""The converter line splitter (sans I/O): hostile streams never cost a valid frame."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.wiegand import codec
from drivers.wiegand.line import (
    MAX_LINE,
    Discarded,
    LineSplitter,
    WiegandFrame,
    checksum,
    parse_line,
)
from tests.line_streams import card_line, is_subsequence, item, stream


def _cards(chunks: list[bytes | Discarded]) -> list[str]:
    cards = []
    for chunk in chunks:
        if isinstance(chunk, Discarded):
            continue
        assert len(chunk) <= MAX_LINE
        try:
            msg = parse_line(chunk)
        except codec.BadFrame:
            continue
        if isinstance(msg, WiegandFrame) and msg.bits == 26:
            card = codec.decode(msg.value, 26, (codec.builtin_formats()["h10301"],))
            cards.append(f"h10301:{card.facility}:{card.number}")
    return cards


@settings(max_examples=300)
@given(st.lists(item, max_size=25), st.data())
def test_no_valid_frame_after_a_line_break_is_lost(
    items: list[tuple[str, str, bytes]], data: st.DataObject
) -> None:
    raw, expected = stream(items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    lines = LineSplitter()
    chunks: list[bytes | Discarded] = []
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        chunks += lines.feed(raw[a:b])
    chunks += lines.feed(b"\n")
    assert not lines.pending
    assert is_subsequence(expected, _cards(chunks)), (expected, chunks)


def test_megabyte_without_a_break_is_one_overlong_and_the_next_line_counts() -> None:
    lines = LineSplitter()
    chunks = []
    for _ in range(256):
        chunks += lines.feed(b"A" * 4096)
    chunks += lines.feed(b"\r\n" + card_line(1, 2))
    assert [c.reason for c in chunks if isinstance(c, Discarded)] == ["overlong"]
    assert _cards(chunks) == ["h10301:1:2"]


def test_cr_alone_ends_a_line() -> None:
    lines = LineSplitter()
    chunks = lines.feed(card_line(1, 2)[:-1] + card_line(3, 4)[:-2] + b"\r")
    assert _cards(chunks) == ["h10301:1:2", "h10301:3:4"]


def test_partial_line_then_silence_is_dropped_alone() -> None:
    lines = LineSplitter()
    assert lines.feed(b"W26:018") == []
    assert lines.pending
    (dropped,) = lines.idle()
    assert isinstance(dropped, Discarded) and dropped.reason == "framing"
    assert _cards(lines.feed(card_line(5, 6))) == ["h10301:5:6"]


def test_noise_before_a_frame_start_is_skipped() -> None:
    chunks = LineSplitter().feed(b"\0\0zz" + card_line(7, 8))
    assert isinstance(chunks[0], Discarded) and chunks[0].reason == "framing"
    assert _cards(chunks) == ["h10301:7:8"]


@pytest.mark.parametrize("digits", ["+1807D2", " 1807D2", "01807d2", "0_1807D"])
def test_only_upper_case_hex_digits_are_a_frame(digits: str) -> None:
    payload = f"W26:{digits}".encode()
    line = payload + b"*%02X" % checksum(payload)
    with pytest.raises(codec.BadFrame) as err:
        parse_line(line)
    assert err.value.reason == "framing"
