"""Property tests of card+PIN pairing (rules/pairing.py): pure, time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rules.access import CredentialView, Person
from rules.pairing import AwaitingPin, awaiting_after, paired

T0 = datetime(2026, 6, 1, 4, tzinfo=UTC)
KINDS = ("card", "card_pin", "pin", "plate", "visitor")


def view(kind: str, cid: int = 1) -> CredentialView:
    return CredentialView(cid, kind, "active", Person(f"p{cid}", "", "resident", None, False, 0.0))


offsets = st.integers(-10_000, 100_000).map(lambda ms: timedelta(milliseconds=ms))
timeouts = st.integers(1, 60_000).map(lambda ms: timedelta(milliseconds=ms))


@given(st.sampled_from(KINDS), st.booleans(), offsets, timeouts)
def test_only_a_card_pin_card_without_its_pin_starts_a_wait(
    kind: str, with_pin: bool, at: timedelta, timeout: timedelta
) -> None:
    awaiting = awaiting_after(view(kind), with_pin, T0 + at, timeout)
    if kind == "card_pin" and not with_pin:
        assert awaiting == AwaitingPin(view(kind), T0 + at + timeout)
    else:
        assert awaiting is None
    assert awaiting_after(None, with_pin, T0 + at, timeout) is None


@given(st.booleans(), offsets, timeouts, offsets)
def test_a_keypad_entry_pairs_only_before_the_deadline(
    keypad: bool, card_at: timedelta, timeout: timedelta, entry_after: timedelta
) -> None:
    card = view("card_pin")
    awaiting = awaiting_after(card, False, T0 + card_at, timeout)
    entry = T0 + card_at + entry_after
    got = paired(awaiting, keypad, entry)
    assert (got is card) == (keypad and entry_after < timeout)
    assert paired(None, keypad, entry) is None


# A reader's life: a sequence of presentations, each (kind of credential found or None for
# a keypad entry, whether it came with a PIN, ms since the previous one).
steps = st.lists(
    st.tuples(st.sampled_from((*KINDS, None)), st.booleans(), st.integers(0, 20_000)),
    max_size=30,
)


@given(steps, timeouts)
def test_a_pin_pairs_with_the_last_card_pin_presentation_only_within_the_timeout(
    life: list[tuple[str | None, bool, int]], timeout: timedelta
) -> None:
    """Run the rule as the index does (one wait per reader, every presentation ends it) and
    compare with the plain statement: a keypad entry completes a card exactly when the
    presentation just before it was a card+PIN card without its PIN, less than ``timeout``
    earlier."""
    awaiting: AwaitingPin | None = None
    now = T0
    previous: tuple[CredentialView | None, bool, datetime] | None = None
    for i, (kind, with_pin, gap_ms) in enumerate(life):
        now += timedelta(milliseconds=gap_ms)
        keypad = kind is None
        got = paired(awaiting, keypad, now)
        expected = (
            previous is not None
            and keypad
            and previous[0] is not None
            and previous[0].kind == "card_pin"
            and not previous[1]
            and now - previous[2] < timeout
        )
        assert (got is not None) == expected
        found = got if got is not None else (view(kind, i) if kind else None)
        presented_pin = with_pin or got is not None  # a paired entry is the card's PIN
        awaiting = awaiting_after(found, presented_pin, now, timeout)
        previous = (found if got is None else None, presented_pin, now)
