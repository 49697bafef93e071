"""What each reader may see of a journal entry.

- Secrets (visitor codes, PINs, raw reader lines) are never shown to anybody.
- Personal data (names, person ids, hosts, notes) is shown to staff roles only; others
  see a stable pseudonym for ids and nothing for names.
- Credential numbers are shown in clear or as a stable keyed pseudonym, as the role's
  ``[commands.<role>] credentials`` says (viewers: pseudonym by default). The live MQTT
  event stream is readable by every broker user, so it always gets the most restricted view.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from edgectl.store import kv
from edgectl.store.db import connect

SECRET = frozenset({"code", "pin", "raw", "password"})
PERSONAL_IDS = frozenset(
    # staff ids too: a work order's assignee, the staff member an overdue order is sent to,
    # the guard on a tour, the butler or desk agent a command was made for
    {"person_id", "host", "butler_id", "resident_id", "assignee", "to", "guard", "as"}
)
PERSONAL_TEXT = frozenset({"person_name", "name", "note", "phone", "plate", "detail"})
CREDENTIALS = frozenset({"credential", "number"})
LABELS = frozenset({"subject"})  # an audit event's "card 12:345", "person p1"
KEY_NAME = "commands.pseudonym_key"


@dataclass(frozen=True, slots=True)
class Pseudonyms:
    key: bytes

    def of(self, value: Any) -> str:
        digest = hmac.new(self.key, str(value).encode("utf-8", "replace"), hashlib.sha256)
        return "~" + digest.hexdigest()[:16]


def load_key(path: str) -> Pseudonyms:
    """The site's pseudonym key, created on first use (blocking: call off the loop)."""
    conn = connect(path)
    try:
        value = kv.get(conn, KEY_NAME)
        if not value:
            value = secrets.token_hex(32)
            conn.execute("INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)", (KEY_NAME, value))
            value = kv.get(conn, KEY_NAME)
    finally:
        conn.close()
    return Pseudonyms(bytes.fromhex(value))


@dataclass(frozen=True, slots=True)
class View:
    """How much of an entry one reader sees."""

    personal: bool
    clear_credentials: bool
    pseudonyms: Pseudonyms

    def entry(self, doc: dict[str, Any]) -> dict[str, Any]:
        body = doc.get("body")
        if not isinstance(body, dict):
            return doc
        shown = dict(doc)
        shown["body"] = self._dict(body)
        return shown

    def _dict(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key in SECRET:
                continue
            if key in PERSONAL_TEXT and not self.personal:
                continue
            if key in PERSONAL_IDS and not self.personal and value is not None:
                value = self.pseudonyms.of(value)
            elif key in CREDENTIALS and not self.clear_credentials and value is not None:
                value = self.pseudonyms.of(value)
            elif key in LABELS and not (self.personal and self.clear_credentials):
                value = self.pseudonyms.of(value)
            elif key == "facility" and not self.clear_credentials:
                continue
            elif isinstance(value, dict):
                value = self._dict(value)
            out[key] = value
        return out
