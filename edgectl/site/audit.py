"""A change to site state and its audit event, committed in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from edgectl.domain import SiteChanged
from edgectl.site.actor import Actor
from edgectl.store.credentials import bump_revision
from edgectl.store.journal import Entry, insert_event
from edgectl.store.tx import transaction

OnCommit = Callable[[Entry], None]


@contextmanager
def audited(
    conn: sqlite3.Connection,
    actor: Actor,
    action: str,
    subject: str,
    details: dict[str, Any],
    *,
    now: datetime,
    cached: bool = False,
    on_commit: OnCommit | None = None,
) -> Iterator[sqlite3.Connection]:
    """``with audited(...) as c:`` writes the change on ``c``; on leaving, the audit event
    (with ``details`` as the block left it) and, for ``cached`` data (levels, groups,
    modes), a revision bump join the same transaction. ``on_commit`` gets the committed
    entry (the daemon fans it out to MQTT like any journal entry)."""
    with transaction(conn):
        yield conn
        if cached:
            bump_revision(conn)
        event = SiteChanged(
            source="site",
            at=now.astimezone(UTC),
            actor=actor.who,
            interface=actor.interface,
            action=action,
            subject=subject,
            details=details,
        )
        entry = insert_event(conn, event)
    if on_commit is not None:
        on_commit(entry)
