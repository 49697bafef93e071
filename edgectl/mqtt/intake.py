"""Commands in: rate-limited per operator, then handled higher roles first.

Taking a message off the broker connection costs a topic parse and a token-bucket check,
so a flood from one user is shed at the door: over its role's limit a user gets one
``rate_limited`` reply per burst and nothing is journaled. Admitted commands wait in a
priority queue (admin, operator, guard, viewer, then unknown ids) for a few workers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from edgectl.commands.ratelimit import Admission, RateLimiter
from edgectl.commands.roles import Role, RoleTable
from edgectl.commands.settings import CommandSettings

T = TypeVar("T")
WORKERS = 8
MAX_WAITING = 1000  # admitted commands waiting for a worker; beyond it, shed like a flood
UNKNOWN = "?"  # every id that is not a configured operator shares one (viewer) bucket


@dataclass(order=True)
class _Item(Generic[T]):
    rank: int
    seq: int
    item: T = field(compare=False)


class Intake(Generic[T]):
    def __init__(
        self,
        roles: RoleTable,
        settings: CommandSettings,
        handle: Callable[[T], Coroutine[Any, Any, None]],
        limited: Callable[[T], Coroutine[Any, Any, None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.roles = roles
        self.settings = settings
        self._handle = handle
        self._limited = limited
        self._clock = clock
        self._limiter = RateLimiter()
        self._queue: asyncio.PriorityQueue[_Item[T]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._side: set[asyncio.Task[None]] = set()
        self.inflight: set[asyncio.Task[None]] = set()
        self.offered = 0  # commands taken off the broker connections

    def offer(self, operator: str, item: T) -> Admission:
        """Take one command from ``operator``; never blocks."""
        self.offered += 1
        role = self.roles.role(operator)
        policy = self.settings.policy((role or Role.VIEWER).name.lower())
        key = operator if role is not None else UNKNOWN
        admission = self._limiter.take(key, policy.rate_per_s, policy.burst, self._clock())
        if admission is Admission.ADMIT and self._queue.qsize() >= MAX_WAITING:
            admission = Admission.REFUSE_AND_SAY
        if admission is Admission.ADMIT:
            rank = -(role or 0)
            self._queue.put_nowait(_Item(rank, next(self._order), item))
        elif admission is Admission.REFUSE_AND_SAY:  # otherwise dropped without a reply
            task = asyncio.get_running_loop().create_task(self._limited(item))
            self._side.add(task)
            task.add_done_callback(self._side.discard)
        return admission

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        """The workers; cancelling them leaves the commands in hand in ``inflight``."""
        async with asyncio.TaskGroup() as group:
            for n in range(WORKERS):
                group.create_task(self._work(), name=f"mqtt-command-{n}")

    async def _work(self) -> None:
        while True:
            queued = await self._queue.get()
            task = asyncio.get_running_loop().create_task(self._handle(queued.item))
            self.inflight.add(task)
            task.add_done_callback(self.inflight.discard)
            await asyncio.shield(task)
