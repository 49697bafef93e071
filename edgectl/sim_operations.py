"""``edgectl sim --operations``: a patrol tour and a gate fault work order, in time-lapse.

The simulated compound runs as usual (real Modbus gate, real Wiegand reader) but the daemon
reads a clock the scenario moves forward in jumps, so deadlines of minutes show in seconds:

1. an operator starts the example route ``night-round`` for the guard on duty; the guard's
   handheld badges the guard-room tag, the guard badges a card at the gate reader (a real
   frame, a real access decision), then the garage tag, and never reaches the roof: after
   its window that checkpoint is missed (an alarm) and the tour ends incomplete;
2. the simulated gate reports a fault on its registers: a work order opens for the engineer
   on duty, who accepts it; nobody is on site 30 minutes later, so it is escalated to the
   engineer, then to the supervisor; the gate is repaired and the order is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from edgectl.daemon import Daemon
from edgectl.simulation import Compound
from edgectl.site.actor import SYSTEM
from edgectl.site.service import SiteService
from edgectl.store.journal import Entry

ROUTE = "night-round"
GATE = "main-gate"
GUARD = "guard-zhao"
GUARD_CARD = (12, 3001)
STEP_TIMEOUT_S = 10.0

Show = Callable[[Entry], None]
Say = Callable[[str], None]


@dataclass
class JumpClock:
    """Real time plus the jumps the scenario has made."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Scenario:
    def __init__(self, compound: Compound, daemon: Daemon, clock: JumpClock, show: Show, say: Say):
        self.compound = compound
        self.daemon = daemon
        self.clock = clock
        self.show = show
        self.say = say
        self.events = daemon.journal.subscribe()

    async def until(self, kind: str, **body: object) -> Entry:
        """Show entries until one of ``kind`` (with these body values) commits."""
        return await self.first(
            lambda e: e.kind == kind and all(e.body.get(k) == v for k, v in body.items())
        )

    async def first(self, match: Callable[[Entry], bool]) -> Entry:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            while True:
                entry = await self.events.get()
                self.show(entry)
                if match(entry):
                    return entry

    def jump(self, minutes: float) -> None:
        self.say(f">> {minutes:g} minutes pass")
        self.clock.offset += timedelta(minutes=minutes)
        self.daemon.operations.timeline.poke()

    async def patrol(self) -> None:
        ops = self.daemon.operations
        site = self.daemon.site
        if await site.call(SiteService.card_id, *GUARD_CARD) is None:
            await site.call(SiteService.add_card, GUARD, *GUARD_CARD, actor=SYSTEM)
        self.say(f">> operator starts a tour of {ROUTE} for {GUARD}")
        ops.patrol.start(ROUTE, "sim-operator", GUARD)
        await self.until("patrol_tour", status="started")
        self.say(">> handheld: tag-guardroom")
        ops.patrol.badge("tag-guardroom", GUARD)
        await self.until("patrol_checkpoint")
        self.jump(6)
        self.say(f">> {GUARD} badges a card at the gate reader")
        self.compound.reader.present("h10301", *GUARD_CARD)
        await self.until("patrol_checkpoint")
        self.jump(4)
        self.say(">> handheld: tag-garage-b1")
        ops.patrol.badge("tag-garage-b1", GUARD)
        await self.until("patrol_checkpoint")
        self.jump(30)  # the roof's window and its late allowance are over
        await self.until("checkpoint_missed")
        await self.until("patrol_tour", status="incomplete")

    async def gate_fault(self) -> None:
        ops = self.daemon.operations
        gate = self.compound.gates.gates[1].model
        self.say(">> the main gate reports a fault (code 7)")
        gate.fault_code = 7
        opened = await self.first(  # a rerun in the same folder reopens the last order
            lambda e: (
                e.kind == "workorder_created"
                or (e.kind == "workorder_changed" and e.body.get("note") == "fault_repeated")
            )
        )
        order_id, engineer = opened.body["order_id"], opened.body["assignee"]
        self.say(f">> {engineer} accepts {order_id}")
        ops.workorders.transition(order_id, "accepted", engineer, "cli")
        await self.until("workorder_changed", status="accepted")
        self.jump(31)  # emergency: on site within 30 minutes
        await self.until("workorder_overdue", level=0)
        self.jump(15)
        await self.until("workorder_overdue", level=1)
        self.say(">> the gate is repaired")
        gate.fault_code = 0
        await self.until("workorder_changed", status="done")

    async def gate_polled(self) -> None:
        """Until the daemon has read the gate's state on the bus."""
        polled = asyncio.Event()
        devices = self.daemon.devices
        devices.listen(lambda v: polled.set() if v.id == GATE and v.state.get("state") else None)
        if not devices.views[GATE].state.get("state"):
            await asyncio.wait_for(polled.wait(), STEP_TIMEOUT_S)

    async def run(self) -> None:
        await self.gate_polled()
        await self.patrol()
        await self.gate_fault()
