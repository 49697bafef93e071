"""The site service for asyncio code: its SQLite on an owning thread, never on the loop.

``await site.call(SiteService.set_card_status, 12, 345, "revoked", actor=actor)`` runs the
method on the worker thread. Each committed audit event is handed to the journal's
subscribers (MQTT, the outbox wake-up), as the journal does for its own entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from edgectl.config import Config
from edgectl.site.service import SiteService
from edgectl.store.journal import Entry, Journal
from edgectl.store.worker import DbWorker

P = ParamSpec("P")
T = TypeVar("T")


def fan_out(journal: Journal) -> Callable[[Entry], None]:
    """An ``on_commit`` for a service off the loop: publish to the journal's subscribers."""
    loop = asyncio.get_running_loop()

    def publish(entry: Entry) -> None:
        loop.call_soon_threadsafe(journal.publish, [entry])

    return publish


class SiteWorker:
    """Create inside a running loop; ``close()`` at shutdown."""

    def __init__(self, config: Config, journal: Journal | None = None) -> None:
        self._db = DbWorker(config.store.path, "site-db")
        on_commit = fan_out(journal) if journal is not None else None
        self.service = SiteService(self._db.conn, config, on_commit)

    async def call(
        self, method: Callable[Concatenate[SiteService, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run ``method(service, *args, **kw)`` on the service's thread."""
        return await self._db.call(lambda _conn: method(self.service, *args, **kw))

    def close(self) -> None:
        self._db.close()
