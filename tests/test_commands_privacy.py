"""Property tests for what each reader sees of a journal entry (edgectl/commands/privacy.py)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edgectl.commands.privacy import (
    CREDENTIALS,
    PERSONAL_IDS,
    PERSONAL_TEXT,
    SECRET,
    Pseudonyms,
    View,
)

KEYS = sorted(SECRET | PERSONAL_IDS | PERSONAL_TEXT | CREDENTIALS | {"subject", "target", "x"})
MARK = "S3CR3T"
leaf = st.integers(0, 10**9).map(lambda n: f"{MARK}{n}")
bodies = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), leaf, max_size=6),
    lambda inner: st.dictionaries(st.sampled_from(KEYS), leaf | inner, max_size=4),
    max_leaves=12,
)
KEY = Pseudonyms(b"k" * 32)
RESTRICTED = View(personal=False, clear_credentials=False, pseudonyms=KEY)
STAFF = View(personal=True, clear_credentials=True, pseudonyms=KEY)


def keys_in(doc: Any) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in keys_in(v)}
    return set()


@given(bodies)
def test_restricted_view_shows_only_pseudonyms_and_harmless_fields(body: dict[str, Any]) -> None:
    shown = RESTRICTED.entry({"seq": 1, "kind": "k", "body": body})
    text = json.dumps(shown)
    keys = keys_in(shown["body"])
    assert not keys & (SECRET | PERSONAL_TEXT)
    unprotected = {k for k in keys_in(body) if k in ("target", "x")}
    if not unprotected:  # every marked value was secret, personal or a credential
        assert MARK not in text


@given(bodies)
def test_staff_see_everything_but_secrets_and_pseudonyms_are_stable(body: dict[str, Any]) -> None:
    shown = STAFF.entry({"seq": 1, "kind": "k", "body": body})
    assert not keys_in(shown["body"]) & SECRET
    again = RESTRICTED.entry({"seq": 1, "kind": "k", "body": body})
    assert again == RESTRICTED.entry({"seq": 1, "kind": "k", "body": body})
    assert KEY.of("h10301:1:2") == Pseudonyms(b"k" * 32).of("h10301:1:2")
    assert KEY.of("h10301:1:2") != Pseudonyms(b"j" * 32).of("h10301:1:2")
