"""The MQTT intake (``edgectl/mqtt/intake.py``): admitted commands are handled higher roles
first, whatever order they arrived in, and a flood over the limit is shed, not queued."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import given
from hypothesis import strategies as st

from edgectl.commands.ratelimit import Admission
from edgectl.commands.roles import RoleTable
from edgectl.commands.settings import CommandSettings
from edgectl.config import Operator
from edgectl.mqtt.intake import Intake
from edgectl.mqtt.topics import Topics

STAFF = [
    Operator("vic", "viewer"),
    Operator("vera", "viewer"),
    Operator("gus", "guard"),
    Operator("olga", "operator"),
    Operator("ada", "admin"),
]
RANK = {"?": 0, "vic": 1, "vera": 1, "gus": 2, "olga": 3, "ada": 4}


async def handled_order(arrivals: list[str]) -> tuple[list[str], list[str]]:
    """Offer ``arrivals`` (operator ids, in order) before any worker runs; return the order
    the workers started handling them, and whom the intake told ``rate_limited``."""
    started: list[str] = []
    limited: list[str] = []
    done = asyncio.Event()
    admitted = 0

    async def handle(who: str) -> None:
        started.append(who)
        if len(started) == admitted:
            done.set()
        await asyncio.sleep(0)

    async def tell(who: str) -> None:
        limited.append(who)

    intake: Intake[str] = Intake(RoleTable(STAFF), CommandSettings(), handle, tell)
    for who in arrivals:
        if intake.offer(who, who) is Admission.ADMIT:
            admitted += 1
    workers = asyncio.create_task(intake.run())
    if admitted:
        await asyncio.wait_for(done.wait(), 5)
    workers.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await workers
    await asyncio.sleep(0)  # the rate_limited replies
    return started, limited


@given(st.lists(st.sampled_from(sorted(RANK)), max_size=60))
def test_admitted_commands_are_started_highest_role_first(arrivals: list[str]) -> None:
    started, _ = asyncio.run(handled_order(arrivals))
    # every command was queued before a worker ran: they leave the queue highest rank first
    ranks = [RANK[w] for w in started]
    assert ranks == sorted(ranks, reverse=True)


def test_an_operator_behind_a_viewer_flood_is_handled_first_and_the_flood_is_shed() -> None:
    arrivals = ["vic"] * 500 + ["olga"]
    started, limited = asyncio.run(handled_order(arrivals))
    assert started[0] == "olga"
    viewer_burst = CommandSettings().viewer.burst
    assert started.count("vic") == viewer_burst  # the rest never reached a worker
    assert limited == ["vic"]  # one rate_limited answer for the whole burst


@given(st.text(max_size=8))
def test_a_response_topic_is_taken_only_if_a_broker_would_route_it(tail: str) -> None:
    """mosquitto refuses such response topics on the way in; a broker that passes them on
    would drop the daemon's connection when it answers there (found by the request-path
    property test)."""
    topics = Topics("edgectl/s1")
    own = topics.reply("ann")
    bad = {c for c in tail if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "+#"}
    bad |= {c for c in tail if 0xD800 <= ord(c) <= 0xDFFF or 0xFDD0 <= ord(c) <= 0xFDEF}
    bad |= {c for c in tail if ord(c) & 0xFFFE == 0xFFFE}
    assert topics.allowed_response_topic("ann", f"{own}/{tail}") == (not bad)
    assert not topics.allowed_response_topic("ann", f"{topics.reply('bob')}/{tail}")
