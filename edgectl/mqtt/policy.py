"""The one adapter between MQTT commands and the access-policy and work-order code.

The access policy (lockdown, emergency, visitor passes, credential status, anti-passback)
belongs to the rules engine's ``AccessIndex`` (``edgectl/store/credentials.py``). Every
call MQTT makes into it goes through this module and its two exceptions, so a change of
its API touches only the method bodies here, never the command table. (Work orders and
patrols go through ``edgectl/opcommands.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgectl.domain import Command
from edgectl.store.credentials import AccessIndex, CredentialError


class NotFound(Exception):
    """The credential, pass or work order named does not exist."""


class Invalid(Exception):
    """The policy refused the request's values (an unknown host, a status not allowed)."""


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
        return self.index.set_lockdown(on)

    def set_emergency(self, on: bool, by: str, now: datetime) -> tuple[Command, ...]:
        """Enter or leave emergency; returns the device commands (open gates, release doors)."""
        return self.index.set_emergency(on)

    def forgive_antipassback(self, person_id: str, by: str, now: datetime) -> dict[str, Any]:
        return {"forgotten": self.index.forgive(person_id)}

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
        try:
            issued = self.index.issue_visitor_pass(name, host, until, gates, now=now)
        except CredentialError as exc:
            raise Invalid(str(exc)) from None
        return VisitorPass(issued.code, issued.person_id, issued.valid_until, gates)

    def revoke_visitor_pass(self, code: str, by: str, now: datetime) -> None:
        if not self.index.revoke_visitor_pass(code, now=now):
            raise NotFound(f"no visitor pass {code!r}")

    def set_credential_status(
        self, facility: int | None, number: int, status: str, by: str, now: datetime
    ) -> None:
        """``status`` is ``suspended`` or ``revoked``."""
        try:
            found = self.index.set_status(facility, number, status)
        except CredentialError as exc:
            raise Invalid(str(exc)) from None
        if not found:
            raise NotFound(f"no card {facility}:{number}")


STAFF_FIELDS = {
    "arrival": "butler_id",  # domain.Arrival
    "workorder_created": "assignee",  # domain.WorkOrderCreated
    "workorder_changed": "assignee",  # domain.WorkOrderChanged
    "workorder_overdue": "to",  # domain.WorkOrderOverdue: the assignee, then the supervisor
}


def staff_for(kind: str, body: dict[str, Any]) -> str | None:
    """The staff id an event is routed to on their own topic, if any."""
    field = STAFF_FIELDS.get(kind)
    staff = body.get(field) if field else None
    return staff if isinstance(staff, str) and staff else None
