"""The one adapter between operator commands and the access-policy code.

Every change (lockdown, emergency, visitor passes, credential status, anti-passback) goes
through the site service (``edgectl/site/service.py``). Every call a command makes into
them goes through this module and its three exceptions, so a change of their API touches
only the method bodies here, never the command table. (Work orders and patrols run on the
site's ``Operations``: ``commands/operations.py``.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from edgectl.domain import Command
from edgectl.site.actor import Actor
from edgectl.site.service import SiteService
from edgectl.site.worker import SiteWorker
from edgectl.store.access_index import AccessIndex
from edgectl.store.credentials import CredentialError

P = ParamSpec("P")
T = TypeVar("T")


class NotFound(Exception):
    """The credential, pass or work order named does not exist."""


class Unavailable(Exception):
    """The store could not take the change now (locked, failing); nothing changed."""


class Invalid(Exception):
    """The policy refused the request's values (an unknown host, a status not allowed)."""


@dataclass(frozen=True, slots=True)
class VisitorPass:
    code: str
    person_id: str
    valid_until: datetime
    gates: tuple[str, ...]


class AccessOps:
    """Policy operations for operator commands: each a change through the site service
    (off the loop), audited with the operator as actor and ``via`` (the interface the
    command came through: ``mqtt``, ``control``, ``cli``) as interface."""

    def __init__(self, site: SiteWorker, index: AccessIndex) -> None:
        self.site = site
        self.index = index

    async def _call(
        self, method: Callable[Concatenate[SiteService, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        try:
            return await self.site.call(method, *args, **kw)
        except CredentialError as exc:
            raise Invalid(str(exc)) from None
        except sqlite3.Error as exc:  # the store is locked or failing: nothing changed
            raise Unavailable(str(exc)) from None

    async def set_lockdown(
        self, on: bool, by: str, now: datetime, *, via: str = "mqtt"
    ) -> tuple[Command, ...]:
        """Enter or leave lockdown; returns the device commands the mode change needs."""
        return await self._call(SiteService.set_lockdown, on, actor=Actor(by, via), now=now)

    async def set_emergency(
        self, on: bool, by: str, now: datetime, *, via: str = "mqtt"
    ) -> tuple[Command, ...]:
        """Enter or leave emergency; returns the device commands (open gates, release doors)."""
        return await self._call(SiteService.set_emergency, on, actor=Actor(by, via), now=now)

    async def forgive_antipassback(
        self, person_id: str, by: str, now: datetime, *, via: str = "mqtt"
    ) -> dict[str, Any]:
        await asyncio.to_thread(self.index.effects.flush, 5.0)  # moves before the forgive
        forgotten = await self._call(SiteService.forgive, person_id, actor=Actor(by, via), now=now)
        self.index.forget(person_id)
        return {"forgotten": forgotten}

    async def issue_visitor_pass(
        self,
        name: str,
        host: str,
        until: datetime,
        gates: tuple[str, ...],
        by: str,
        now: datetime,
        *,
        via: str = "mqtt",
    ) -> VisitorPass:
        """One request registers the visitor and returns the code to hand over."""
        issued = await self._call(
            SiteService.issue_visitor_pass, name, host, until, gates, actor=Actor(by, via), now=now
        )
        return VisitorPass(issued.code, issued.person_id, issued.valid_until, gates)

    async def revoke_visitor_pass(
        self, code: str, by: str, now: datetime, *, via: str = "mqtt"
    ) -> None:
        if not await self._call(
            SiteService.revoke_visitor_pass, code, actor=Actor(by, via), now=now
        ):
            raise NotFound("no such visitor pass")

    async def set_credential_status(
        self,
        facility: int | None,
        number: int,
        status: str,
        by: str,
        now: datetime,
        *,
        via: str = "mqtt",
    ) -> None:
        """``status`` is ``suspended`` or ``revoked``."""
        found = await self._call(
            SiteService.set_card_status, facility, number, status, actor=Actor(by, via), now=now
        )
        if not found:
            raise NotFound(f"no card {facility}:{number}")


# kind -> (the body field naming the staff member, the notice on their own topic)
STAFF_NOTICES = {
    "arrival": ("butler_id", "arrival"),  # domain.Arrival
    "intercom_call": ("butler_id", "missed_call"),  # a missed call: the butler on duty
    "workorder_created": ("assignee", "workorder_created"),  # domain.WorkOrderCreated
    "workorder_changed": ("assignee", "workorder_changed"),  # domain.WorkOrderChanged
    # domain.WorkOrderOverdue: the assignee, then the supervisor
    "workorder_overdue": ("to", "workorder_overdue"),
}


def staff_notice(kind: str, body: dict[str, Any]) -> tuple[str, str] | None:
    """The staff id an event goes to on their own topic, and the notice's name, if any."""
    field, notice = STAFF_NOTICES.get(kind, ("", ""))
    staff = body.get(field) if field else None
    return (staff, notice) if isinstance(staff, str) and staff else None
