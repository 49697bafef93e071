"""What an MQTT request carries besides its command fields, each bounded: the envelope
(``issued_at``, ``transaction``) and the MQTT 5 properties (correlation data, response
topic, user properties)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.commands.schema import Refused, text, timestamp

ENVELOPE = ("issued_at", "transaction")
MAX_TRANSACTION = 128
MAX_CORRELATION = 64  # bytes; a UUID is 16
MAX_RESPONSE_TOPIC = 256
MAX_USER_PROPERTIES = 8
MAX_USER_PROPERTY = 128  # characters, key and value each


@dataclass(frozen=True, slots=True)
class Envelope:
    issued_at: datetime
    transaction: str | None
    fields: dict[str, Any]  # the rest of the document, not yet validated


def envelope(doc: dict[str, Any]) -> Envelope:
    """Split the envelope (``issued_at`` required, ``transaction`` optional) from the fields."""
    if "issued_at" not in doc:
        raise Refused("bad_request", "issued_at: required (ISO 8601 time with offset)")
    issued = timestamp("issued_at", doc["issued_at"])
    txn = doc.get("transaction")
    if txn is not None:
        txn = text(MAX_TRANSACTION)("transaction", txn)
    return Envelope(issued, txn, {k: v for k, v in doc.items() if k not in ENVELOPE})


@dataclass(frozen=True, slots=True)
class Properties:
    """The request's MQTT 5 properties, each within its bound (``refusal`` says which not:
    an oversize value is dropped, never echoed or journaled)."""

    correlation: bytes | None
    response_topic: str | None
    operator: str | None  # the ``operator`` user property, if sent
    refusal: Refused | None


def properties(props: Any) -> Properties:
    correlation = getattr(props, "CorrelationData", None)
    response_topic = getattr(props, "ResponseTopic", None)
    users = getattr(props, "UserProperty", None) or []
    refusal = None
    if correlation is not None and (
        not isinstance(correlation, bytes) or len(correlation) > MAX_CORRELATION
    ):
        size = len(correlation) if isinstance(correlation, bytes | str) else 0
        refusal = Refused(
            "bad_request", f"correlation data: {size} bytes, at most {MAX_CORRELATION}"
        )
        correlation = None
    if response_topic is not None and (
        not isinstance(response_topic, str) or len(response_topic) > MAX_RESPONSE_TOPIC
    ):
        refusal = refusal or Refused(
            "bad_response_topic", f"response topic: at most {MAX_RESPONSE_TOPIC} characters"
        )
        response_topic = None
    operator = None
    if len(users) > MAX_USER_PROPERTIES:
        refusal = refusal or Refused(
            "bad_request", f"user properties: {len(users)}, at most {MAX_USER_PROPERTIES}"
        )
    else:
        for pair in users:
            key, value = (str(x) for x in pair) if isinstance(pair, tuple | list) else ("", "")
            if len(key) > MAX_USER_PROPERTY or len(value) > MAX_USER_PROPERTY:
                refusal = refusal or Refused(
                    "bad_request", f"user property: at most {MAX_USER_PROPERTY} characters"
                )
            elif key == "operator":
                operator = value
    return Properties(correlation, response_topic, operator, refusal)
