"""The one adapter between MQTT commands and the access-policy and work-order code.

The access policy (lockdown, emergency, visitor passes, credential status, anti-passback)
belongs to the rules engine (``edgectl/store/credentials.py`` + ``rules/``), work orders to
the sync engine. Their APIs are still landing, so every call MQTT makes into them goes
through this module: at merge only these method bodies change, never the command table.
An operation the spine does not offer yet raises ``Unsupported`` and the operator gets an
``unsupported`` error (journaled like every other outcome), never a silent success.

At merge with the rules engine (its ``AccessIndex`` as of this writing):
``set_lockdown``/``set_emergency`` -> ``index.set_lockdown(on)``/``index.set_emergency(on)``
(they return the commands to carry out), ``forgive_antipassback`` -> ``index.forgive(id)``,
``issue_visitor_pass`` -> ``index.issue_visitor_pass(name, host, until, gates, now=now)``,
``revoke_visitor_pass`` -> ``index.revoke_visitor_pass(code, now=now)``; its
``CredentialError`` becomes ``Invalid``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edgectl.domain import Command
from edgectl.store.credentials import AccessIndex

VISITOR_CODE_DIGITS = 8


class Unsupported(Exception):
    """The operation exists in the command set but not yet in this build."""


class NotFound(Exception):
    """The credential, pass or work order named does not exist."""


class Invalid(Exception):
    """The policy refused the request's values (e.g. an unknown host)."""


@dataclass(frozen=True, slots=True)
class VisitorPass:
    code: str
    person_id: str
    valid_until: datetime
    gates: tuple[str, ...]


class AccessOps:
    """Policy operations for operator commands, over the site's AccessIndex."""

    def __init__(self, index: AccessIndex) -> None:
        self.index = index

    def set_lockdown(self, on: bool, by: str, now: datetime) -> tuple[Command, ...]:
        """Enter or leave lockdown; returns the device commands the mode change needs."""
        raise Unsupported("lockdown needs the rules engine (not in this build)")

    def set_emergency(self, on: bool, by: str, now: datetime) -> tuple[Command, ...]:
        """Enter or leave emergency; returns the device commands (open gates, release doors)."""
        raise Unsupported("emergency mode needs the rules engine (not in this build)")

    def forgive_antipassback(self, person_id: str, by: str, now: datetime) -> None:
        raise Unsupported("anti-passback needs the rules engine (not in this build)")

    def issue_visitor_pass(
        self,
        name: str,
        host: str,
        until: datetime,
        gates: tuple[str, ...],
        by: str,
        now: datetime,
    ) -> VisitorPass:
        """One request registers the visitor and returns the code to hand over."""
        code = secrets.randbelow(10**VISITOR_CODE_DIGITS)
        person = f"visitor:{code:0{VISITOR_CODE_DIGITS}d}"
        cred = self.index.add_card(person, None, code, gates, name=name, role="visitor")
        with self.index.conn:
            self.index.conn.execute(
                "UPDATE credentials SET valid_from = ?, valid_until = ? WHERE id = ?",
                (now.astimezone(UTC).isoformat(), until.astimezone(UTC).isoformat(), cred),
            )
        return VisitorPass(f"{code:0{VISITOR_CODE_DIGITS}d}", person, until, gates)

    def revoke_visitor_pass(self, code: str, by: str, now: datetime) -> None:
        if not code.isdigit() or not self.index.set_status(None, int(code), "revoked"):
            raise NotFound(f"no visitor pass {code!r}")

    def set_credential_status(
        self, facility: int | None, number: int, status: str, by: str, now: datetime
    ) -> None:
        """``status`` is ``suspended`` or ``revoked``."""
        if not self.index.set_status(facility, number, status):
            raise NotFound(f"no card {facility}:{number}")

    def work_order_status(
        self, order_id: str, status: str, note: str, by: str, now: datetime
    ) -> dict[str, Any]:
        raise Unsupported("work orders need the sync engine (not in this build)")


def arrival_staff(body: dict[str, Any]) -> str | None:
    """The butler's staff id on an ``arrival`` event (the rules engine's field name)."""
    staff = body.get("butler_id")
    return staff if isinstance(staff, str) and staff else None
