"""Hypothesis strategies for a hostile converter line: garbage around valid frames."""

from __future__ import annotations

from hypothesis import strategies as st

from drivers.wiegand import codec
from drivers.wiegand.line import encode_frame

H10301 = codec.builtin_formats()["h10301"]


def card_line(facility: int, number: int) -> bytes:
    return encode_frame(codec.encode(H10301, facility, number), 26)


# A valid frame with its terminator (CR LF, CR alone or LF alone); facility 255 is kept for
# the sentinel a test ends each example with.
valid = st.builds(
    lambda f, n, end: ("valid", f"h10301:{f}:{n}", card_line(f, n)[:-2] + end),
    st.integers(0, 254),
    st.integers(0, 0xFFFF),
    st.sampled_from([b"\r\n", b"\r", b"\n"]),
)
garbage = st.binary(max_size=80).map(lambda b: ("garbage", "", b))
partial = st.builds(
    lambda f, n, cut: ("partial", "", card_line(f, n)[: 1 + cut % 14]),
    st.integers(0, 254),
    st.integers(0, 0xFFFF),
    st.integers(0, 13),
)
nuls = st.integers(1, 200).map(lambda n: ("nul", "", b"\0" * n))
overlong = st.builds(
    lambda head, n: ("overlong", "", head + b"A" * n),
    st.sampled_from([b"", b"W26:", b"K", b"H"]),
    st.integers(65, 5000),
)
item = st.one_of(valid, garbage, partial, nuls, overlong)


def stream(items: list[tuple[str, str, bytes]]) -> tuple[bytes, list[str]]:
    """The bytes of ``items`` with a line break before each valid frame, and the cards
    that must come out of it, in order."""
    out = b""
    expected = []
    for kind, card, data in items:
        if kind == "valid":
            out += b"\n"
            expected.append(card)
        out += data
    return out, expected


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)
