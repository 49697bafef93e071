"""The operators' MQTT interface: availability, retained device state, the event stream
and authorised request/response commands (run by the one command pipeline).

It runs as background tasks that connect, reconnect with backoff, and never hold up
anything else: device state and journal entries reach it through non-blocking callbacks
and a bounded queue, and the replay window is read back from the journal off the event
loop after the daemon has started, so access decisions never wait on the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomqtt
import structlog
from aiomqtt import Will
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties

from edgectl.backoff import Backoff
from edgectl.commands.ops import staff_notice
from edgectl.commands.pipeline import Call, Pipeline
from edgectl.commands.privacy import View
from edgectl.commands.roles import Role
from edgectl.commands.schema import Refused, decode
from edgectl.commands.table import Spec
from edgectl.config import Config
from edgectl.devices import DeviceRegistry, DeviceView
from edgectl.mqtt import connection, ha
from edgectl.mqtt.auth import RequestWindow, correlation_key, request_keys, transaction_key
from edgectl.mqtt.intake import Intake
from edgectl.mqtt.outbound import HEADER_ROOM, encode, fit_event, fit_reply
from edgectl.mqtt.payloads import Envelope, Properties, envelope, properties
from edgectl.mqtt.topics import Topics
from edgectl.router import Clock, utc_now
from edgectl.store.db import connect
from edgectl.store.journal import Entry, Journal, newest_first

log = structlog.get_logger(__name__)

EVENT_QOS = 0
PRIVATE_KINDS = frozenset({"arrival"})  # only on the staff member's own topic
STOP_TIMEOUT_S = 5.0
RECONNECT_FIRST_S = 0.25  # reconnect backoff: 0.25 s, 0.5 s, ... capped at 15 s
RECONNECT_MAX_S = 15.0

Spawn = Callable[[str, Callable[[], Awaitable[None]]], "asyncio.Task[None]"]
REPLY_TIMEOUT_S = 2.0
PUMP_RETRY_S = 1.0
LIVENESS_S = 0.5  # how often a session checks that paho still has its link
ENTER_TIMEOUT_S = 15.0  # connect + TLS + CONNACK, however the link misbehaves
EXIT_TIMEOUT_S = 2.0

BULK_PACE = 500.0  # commands a second taken from users below guard (and unknown ids)


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    operator: str
    name: str
    props: Properties
    payload: bytes
    received: float  # monotonic


class MqttInterface:
    def __init__(
        self,
        config: Config,
        journal: Journal,
        devices: DeviceRegistry,
        pipeline: Pipeline,
        clock: Clock = utc_now,
    ) -> None:
        self.config = config
        self.journal = journal
        self.devices = devices
        self.pipeline = pipeline
        self.clock = clock
        self.topics = Topics(config.base_topic)
        self.window = RequestWindow(config.mqtt.command_window_s)
        self.intake: Intake[Incoming] = Intake(
            pipeline.roles, config.commands, self._handle, self._rate_limited
        )
        self.connected = asyncio.Event()
        self.bulk_connected = asyncio.Event()
        self.window_loaded = asyncio.Event()
        self._staff = frozenset(pipeline.roles.ids(Role.GUARD))
        self._v5 = config.mqtt.protocol == "5"
        self._events = journal.subscribe()
        self._dirty: dict[str, DeviceView] = {}
        self._state_wake = asyncio.Event()
        self._client: connection.SiteClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stream: View | None = None
        self._readying = asyncio.Lock()
        devices.listen(self._on_device)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, spawn: Spawn) -> None:
        """Start in the background, as supervised tasks; returns at once."""
        self._tasks = [
            spawn("mqtt", lambda: self._lane(True)),
            spawn("mqtt-bulk", lambda: self._lane(False)),
            spawn("mqtt-commands", self.intake.run),  # last: stop() ends it first
        ]

    async def stop(self) -> None:
        """Finish in-flight commands, say ``offline`` (retained), disconnect."""
        self._tasks[-1].cancel()  # no new commands
        if self.intake.inflight:
            await asyncio.wait(set(self.intake.inflight), timeout=STOP_TIMEOUT_S)
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(
                    self.topics.availability, b"offline", qos=1, retain=True, timeout=1
                )
        for task in self._tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
        if stuck:  # a client that will not close must not hold the daemon's shutdown
            log.warning("mqtt_stop_timed_out", after_s=STOP_TIMEOUT_S)
        self.journal.unsubscribe(self._events)

    async def _ready(self) -> None:
        """Before the first connection: the replay window and the stream's view, once."""
        async with self._readying:
            if not self.window_loaded.is_set():
                await self._load_window()
            if self._stream is None:
                self._stream = await self.pipeline.view_for(None)

    async def _lane(self, main: bool) -> None:
        """One connection, kept up for ever. The main one carries availability, state,
        events, replies and the staff's commands; the bulk one (``-bulk``) everybody
        else's, paced, so a flood there never delays or drops a staff command."""
        await self._ready()
        backoff = Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        m = self.config.mqtt
        while True:  # a lost link is normal; anything else is a crash for the supervisor
            try:
                await self._connect_once(backoff, main)
            except aiomqtt.MqttError as exc:
                log.warning("mqtt_disconnected", main=main, port=m.port, error=str(exc))
            except (OSError, TimeoutError) as exc:
                log.warning("mqtt_disconnected", main=main, port=m.port, error=repr(exc))
            await asyncio.sleep(backoff.next())

    async def _connect_once(self, backoff: Backoff, main: bool) -> None:
        """One connection, from CONNECT to its loss; every exit path closes it, bounded."""
        if main:
            will = Will(self.topics.availability, b"offline", qos=1, retain=True)
            client = connection.client(self.config, will, self._take_staff)
        else:
            client = connection.client(
                self.config, None, self._take_others, suffix="-bulk", pace=BULK_PACE
            )
        async with asyncio.timeout(ENTER_TIMEOUT_S):
            await client.__aenter__()
        try:
            backoff.reset()
            log.info("mqtt_connected", main=main, max_packet=client.max_packet)
            if main:
                self._client = client
                await self._session(client)
            else:
                await self._bulk_session(client)
        finally:  # before the client's exit, which may wait to disconnect
            if main:
                self._client = None
                self.connected.clear()
            else:
                self.bulk_connected.clear()
            try:
                async with asyncio.timeout(EXIT_TIMEOUT_S):
                    await client.__aexit__(None, None, None)
            except Exception as exc:  # a dead link: nothing to say goodbye to
                log.info("mqtt_exit_forced", error=repr(exc))

    async def _load_window(self) -> None:
        """Request ids journaled within the replay horizon stay refused across a restart.
        Read in a thread, newest first until the horizon, so only the window is read."""
        since = self.clock() - self.window.horizon
        # a failure here is the supervisor's: no command is taken before the window is read
        seen = await asyncio.to_thread(_journaled_requests, str(self.journal.path), since)
        for operator, keys, at in seen:
            self.window.remember(operator, keys, at)
        self.window_loaded.set()
        log.info("mqtt_replay_window_loaded", ids=len(self.window))

    async def _bulk_session(self, client: connection.SiteClient) -> None:
        await client.subscribe(self.topics.commands, qos=1)
        parts = [
            asyncio.create_task(self._receive(client)),
            asyncio.create_task(self._alive(client)),
            asyncio.create_task(client.acks()),
        ]
        self.bulk_connected.set()
        await self._until_one_ends(parts)

    async def _until_one_ends(self, parts: list[asyncio.Task[None]]) -> None:
        """The first part to end (a lost link) ends the session."""
        try:
            done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
            for part in done:
                part.result()
            raise aiomqtt.MqttError("session ended")
        finally:
            for part in parts:
                part.cancel()
            await asyncio.gather(*parts, return_exceptions=True)

    async def _session(self, client: connection.SiteClient) -> None:
        for operator in self._staff:
            await client.subscribe(self.topics.staff_commands(operator), qos=1)
        await self._publish(client, self.topics.availability, b"online", qos=1, retain=True)
        if self.config.mqtt.ha_discovery:
            for topic, payload in ha.discovery(self.config, self.topics):
                await self._publish(client, topic, encode(payload), qos=1, retain=True)
        self._dirty.update(self.devices.views)  # retained state again after every connect
        self._state_wake.set()
        parts = [
            asyncio.create_task(self._receive(client)),
            asyncio.create_task(self._alive(client)),
            asyncio.create_task(self._keep(self._pump_states, client)),
            asyncio.create_task(self._keep(self._pump_events, client)),
        ]
        self.connected.set()
        await self._until_one_ends(parts)

    async def _alive(self, client: connection.SiteClient) -> None:
        """Ends the session when paho has lost its link, even if aiomqtt was not told."""
        while client.alive():
            await asyncio.sleep(LIVENESS_S)
        raise aiomqtt.MqttError("connection lost")

    async def _publish(
        self,
        client: connection.SiteClient,
        topic: str,
        payload: bytes,
        *,
        qos: int,
        retain: bool = False,
        props: PahoProperties | None = None,
        timeout: float = REPLY_TIMEOUT_S,
    ) -> None:
        await client.publish(
            topic, payload, qos=qos, retain=retain, properties=props, timeout=timeout
        )

    # --- state and events out ------------------------------------------------------------

    async def _keep(
        self,
        pump: Callable[[connection.SiteClient], Awaitable[None]],
        client: connection.SiteClient,
    ) -> None:
        """Run ``pump`` for the session; a failed publish on a live link (e.g. a timeout) is
        logged and the pump goes on; on a lost link it ends the session."""
        while True:
            try:
                await pump(client)
            except aiomqtt.MqttError as exc:
                if not client.alive():
                    raise
                log.warning("mqtt_publish_failed", pump=pump.__name__, error=str(exc))
                await asyncio.sleep(PUMP_RETRY_S)

    def _on_device(self, view: DeviceView) -> None:
        self._dirty[view.id] = view
        self._state_wake.set()

    async def _pump_states(self, client: connection.SiteClient) -> None:
        while True:
            await self._state_wake.wait()
            self._state_wake.clear()
            while self._dirty:
                device = next(iter(self._dirty))
                topic = self.topics.state(device)
                payload = fit_event(self._dirty.pop(device).to_json(), topic, client.max_packet)
                await self._publish(client, topic, payload, qos=1, retain=True)

    async def _pump_events(self, client: connection.SiteClient) -> None:
        while True:
            entry = await self._events.get()
            await self._publish_entry(client, entry)

    async def _publish_entry(self, client: connection.SiteClient, entry: Entry) -> None:
        """Every broker user reads ``event/#``: it carries the restricted view. An event for
        one staff member (an arrival, a missed intercom call, a work order assigned or
        escalated to them) also goes in full to their own topic; arrivals, which name
        residents, go nowhere else."""
        doc = entry.to_json()
        if entry.kind not in PRIVATE_KINDS:
            assert self._stream is not None
            topic = self.topics.event(entry.kind)
            payload = fit_event(self._stream.entry(doc), topic, client.max_packet)
            await self._publish(client, topic, payload, qos=EVENT_QOS)
        if notice := staff_notice(entry.kind, entry.body):
            topic = self.topics.butler(*notice)
            await self._publish(client, topic, fit_event(doc, topic, client.max_packet), qos=1)

    # --- commands in -----------------------------------------------------------------------

    async def _receive(self, client: connection.SiteClient) -> None:
        """Ends with the link: messages themselves go to ``_take`` as paho reads them."""
        async for _ in client.messages:
            pass

    def _take_staff(self, topic: str, payload: bytes, props: Any) -> None:
        self._take(topic, payload, props, staff=True)

    def _take_others(self, topic: str, payload: bytes, props: Any) -> None:
        self._take(topic, payload, props, staff=False)

    def _take(self, topic: str, payload: bytes, props: Any, *, staff: bool) -> None:
        """Parse the topic and pass the command to the intake: cheap, never blocks. Each
        command is taken from one connection: the staff's from the main one."""
        parsed = self.topics.parse_command(topic)
        if parsed is None:
            log.warning(
                "mqtt_command_dropped",
                topic=topic[:200],
                reason=f"expected {self.topics.base}/cmd/<operator>/<noun>/<verb>",
            )
            return
        operator, name = parsed
        if (operator in self._staff) != staff:
            return
        incoming = Incoming(topic, operator, name, properties(props), payload, time.monotonic())
        self.intake.offer(operator, incoming)

    def _reply_to(self, incoming: Incoming) -> tuple[str, Refused | None]:
        own = self.topics.reply(incoming.operator)
        asked = incoming.props.response_topic
        if asked is None or asked == own:
            return own, None
        if self.topics.allowed_response_topic(incoming.operator, asked):
            return asked, None
        return own, Refused("bad_response_topic", f"response topic must be {own} or below it")

    async def _rate_limited(self, incoming: Incoming) -> None:
        """The one answer to a burst over the operator's limit; not journaled."""
        topic, _ = self._reply_to(incoming)
        reply = {
            "status": "error",
            "code": "rate_limited",
            "message": "too many commands; further ones in this burst are dropped unanswered",
            "command": incoming.name,
            "transaction": None,
        }
        await self._reply(topic, reply, incoming.props.correlation)

    async def _handle(self, incoming: Incoming) -> None:
        started = time.perf_counter()
        operator, name, props = incoming.operator, incoming.name, incoming.props
        reply_to, bad_topic = self._reply_to(incoming)
        transaction: str | None = None
        call = Call(
            operator,
            "mqtt",
            name,
            request=correlation_key(props.correlation),
            reply_budget=self._budget(reply_to, props.correlation),
        )
        try:
            try:
                if props.refusal is not None:
                    raise props.refusal
                if bad_topic is not None:
                    raise bad_topic
                if props.operator is not None and props.operator != operator:
                    raise Refused(
                        "identity_mismatch",
                        "the operator user property does not match the command topic",
                    )
                env = envelope(decode(incoming.payload, self.config.mqtt.max_payload_bytes))
            except Refused as exc:
                reply = await self.pipeline.refuse(call, exc)
            else:
                transaction = env.transaction
                call = Call(
                    operator,
                    "mqtt",
                    name,
                    env.fields,
                    call.request,
                    transaction,
                    call.reply_budget,
                )
                reply = await self.pipeline.run(call, self._admission(call, env, props))
        except Exception:  # the pipeline answers its own failures; this is a last resort
            log.exception("mqtt_command_failed", command=name, operator=operator)
            reply = {"status": "error", "code": "internal", "message": "internal error (logged)"}
        reply |= {"command": name, "transaction": transaction}
        await self._reply(reply_to, reply, props.correlation)
        log.info(
            "mqtt_command",
            operator=operator,
            command=name,
            status=reply["status"],
            code=reply.get("code"),
            ms=round((time.perf_counter() - started) * 1000, 2),
            waited_ms=round((time.monotonic() - incoming.received) * 1000, 2),
        )

    def _budget(self, topic: str, correlation: bytes | None) -> int:
        client = self._client
        limit = client.max_packet if client else connection.FALLBACK_MAX_PACKET
        return limit - HEADER_ROOM - len(topic) - len(correlation or b"") - 512

    def _admission(self, call: Call, env: Envelope, props: Properties) -> Callable[[Spec], None]:
        """MQTT's own checks, after the role check: staleness, then replay."""

        def admit(_: Spec) -> None:
            now = self.clock()
            if self.window.stale(env.issued_at, now):
                raise Refused(
                    "stale",
                    f"issued_at {env.issued_at.isoformat()} is more than "
                    f"{self.window.window.total_seconds():g}s from the site clock",
                )
            keys = request_keys(props.correlation, env.transaction)
            if not keys:
                raise Refused("bad_request", "transaction: required (or MQTT 5 correlation data)")
            seen = self.window.replayed(call.operator, keys, now)
            if seen is not None:
                raise Refused("replay", f"{seen} was already received")

        return admit

    async def _reply(self, topic: str, reply: dict[str, Any], correlation: bytes | None) -> None:
        client = self._client
        props = None
        if self._v5 and correlation is not None:
            props = PahoProperties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]  # paho's class is untyped
            props.CorrelationData = correlation
        try:
            if client is None:
                raise aiomqtt.MqttError("not connected")
            payload = fit_reply(reply, topic, correlation, client.max_packet)
            await self._publish(client, topic, payload, qos=1, props=props)
        except aiomqtt.MqttError as exc:
            log.warning(
                "mqtt_reply_dropped",
                topic=topic,
                error=str(exc),
                command=reply.get("command"),
                code=reply.get("code"),
            )


def _journaled_requests(path: str, since: datetime) -> list[tuple[str, tuple[str, ...], datetime]]:
    """(operator, request ids, at) of MQTT commands journaled since ``since``, oldest first."""
    conn = connect(path, readonly=True)
    try:
        out = []
        for entry in newest_first(conn, "operator_command", since):
            body = entry.body
            if body.get("interface", body.get("channel")) != "mqtt":
                continue
            keys = [body.get("request"), transaction_key(body.get("transaction"))]
            ids = tuple(k for k in keys if isinstance(k, str) and k)
            if ids:
                out.append((entry.source, ids, entry.at))
    finally:
        conn.close()
    out.reverse()
    return out
