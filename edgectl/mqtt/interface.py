"""The operators' MQTT interface: availability, retained device state, the event stream
and authorised request/response commands.

It runs as one background task that connects, reconnects with backoff, and never holds
up anything else: device state and journal entries reach it through non-blocking
callbacks and a bounded queue, so access decisions and daemon start never wait on the
broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiomqtt
import structlog
from aiomqtt import Will
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgectl.backoff import Backoff
from edgectl.config import Config
from edgectl.devices import DeviceRegistry, DeviceView
from edgectl.domain import OperatorCommand
from edgectl.mqtt import connection, ha
from edgectl.mqtt.auth import RequestWindow, RoleTable, request_key
from edgectl.mqtt.commands import COMMANDS, Context, Spec
from edgectl.mqtt.payloads import Envelope, Refused, decode, envelope, validate
from edgectl.mqtt.policy import AccessOps, staff_for
from edgectl.mqtt.topics import Topics
from edgectl.operations import Operations
from edgectl.router import Clock, Router, utc_now
from edgectl.store.db import connect
from edgectl.store.journal import Entry, Journal, last_entries

log = structlog.get_logger(__name__)

EVENT_QOS = 0
STOP_TIMEOUT_S = 5.0
RECONNECT_FIRST_S = 0.25  # reconnect backoff: 0.25 s, 0.5 s, ... capped at 15 s
RECONNECT_MAX_S = 15.0

Spawn = Callable[[str, Callable[[], Awaitable[None]]], "asyncio.Task[None]"]
REPLY_TIMEOUT_S = 2.0
PUMP_RETRY_S = 1.0
REPLAY_SEED_MAX = 10000  # newest operator commands read back at start for replay checks


class MqttInterface:
    def __init__(
        self,
        config: Config,
        journal: Journal,
        router: Router,
        devices: DeviceRegistry,
        ops: AccessOps,
        clock: Clock = utc_now,
        *,
        operations: Operations | None = None,
    ) -> None:
        self.config = config
        self.journal = journal
        self.router = router
        self.devices = devices
        self.ops = ops
        self.clock = clock
        self.operations = operations
        self.topics = Topics(config.base_topic)
        self.roles = RoleTable(config.operators)
        self.window = RequestWindow(config.mqtt.command_window_s)
        self._remember_journaled_requests()
        self.connected = asyncio.Event()
        self._v5 = config.mqtt.protocol == "5"
        self._events = journal.subscribe()
        self._dirty: dict[str, DeviceView] = {}
        self._state_wake = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        devices.listen(self._on_device)

    def _remember_journaled_requests(self) -> None:
        """Requests journaled within the replay horizon stay refused across a restart."""
        horizon = self.clock() - 2 * self.window.window
        conn = connect(self.journal.path, readonly=True)
        try:
            entries = last_entries(conn, REPLAY_SEED_MAX, ("operator_command",))
        finally:
            conn.close()
        for entry in entries:
            request = entry.body.get("request")
            if request and entry.body.get("channel") == "mqtt" and entry.at >= horizon:
                self.window.remember(entry.source, request, entry.at)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, spawn: Spawn) -> None:
        """Start connecting in the background, as a supervised task; returns at once."""
        self._task = spawn("mqtt", self._run)

    async def stop(self) -> None:
        """Finish in-flight commands, say ``offline`` (retained), disconnect."""
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=STOP_TIMEOUT_S)
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(
                    self.topics.availability, b"offline", qos=1, retain=True, timeout=1
                )
        if self._task is not None:
            self._task.cancel()
            _, stuck = await asyncio.wait({self._task}, timeout=STOP_TIMEOUT_S)
            if stuck:  # a client that will not close must not hold the daemon's shutdown
                log.warning("mqtt_stop_timed_out", after_s=STOP_TIMEOUT_S)
        self.journal.unsubscribe(self._events)

    async def _run(self) -> None:
        backoff = Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        will = Will(self.topics.availability, b"offline", qos=1, retain=True)
        m = self.config.mqtt
        while True:
            try:
                async with connection.client(self.config, will) as client:
                    self._client = client
                    backoff.reset()
                    log.info("mqtt_connected", host=m.host, port=m.port, base=self.topics.base)
                    try:
                        await self._session(client)
                    finally:  # before the client's exit, which may wait to disconnect
                        self._client = None
                        self.connected.clear()
            except aiomqtt.MqttError as exc:  # anything else is a crash for the supervisor
                log.warning("mqtt_disconnected", host=m.host, port=m.port, error=str(exc))
            await asyncio.sleep(backoff.next())

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self.topics.commands, qos=1)
        await client.publish(self.topics.availability, b"online", qos=1, retain=True)
        if self.config.mqtt.ha_discovery:
            for topic, payload in ha.discovery(self.config, self.topics):
                await client.publish(topic, json.dumps(payload), qos=1, retain=True)
        self._dirty.update(self.devices.views)  # retained state again after every connect
        self._state_wake.set()
        pumps = [
            asyncio.create_task(self._keep(self._pump_states, client)),
            asyncio.create_task(self._keep(self._pump_events, client)),
        ]
        self.connected.set()
        try:
            async for message in client.messages:
                task = asyncio.create_task(self._handle(message))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    # --- state and events out ------------------------------------------------------------

    async def _keep(
        self, pump: Callable[[aiomqtt.Client], Awaitable[None]], client: aiomqtt.Client
    ) -> None:
        """Run ``pump`` for the session; a failed publish (e.g. a timeout on a live link) is
        logged and the pump goes on. A lost link ends the session, which cancels this."""
        while True:
            try:
                await pump(client)
            except aiomqtt.MqttError as exc:
                log.warning("mqtt_publish_failed", pump=pump.__name__, error=str(exc))
                await asyncio.sleep(PUMP_RETRY_S)

    def _on_device(self, view: DeviceView) -> None:
        self._dirty[view.id] = view
        self._state_wake.set()

    async def _pump_states(self, client: aiomqtt.Client) -> None:
        while True:
            await self._state_wake.wait()
            self._state_wake.clear()
            while self._dirty:
                device = next(iter(self._dirty))
                payload = json.dumps(self._dirty.pop(device).to_json())
                await client.publish(self.topics.state(device), payload, qos=1, retain=True)

    async def _pump_events(self, client: aiomqtt.Client) -> None:
        while True:
            entry = await self._events.get()
            await self._publish_entry(client, entry)

    async def _publish_entry(self, client: aiomqtt.Client, entry: Entry) -> None:
        payload = json.dumps(entry.to_json())
        await client.publish(self.topics.event(entry.kind), payload, qos=EVENT_QOS)
        if staff := staff_for(entry.kind, entry.body):
            await client.publish(self.topics.butler(staff, entry.kind), payload, qos=1)

    # --- commands in -----------------------------------------------------------------------

    async def _handle(self, message: aiomqtt.Message) -> None:
        started = time.perf_counter()
        topic = str(message.topic)
        parsed = self.topics.parse_command(topic)
        if parsed is None:
            log.warning(
                "mqtt_command_dropped",
                topic=topic,
                reason=f"expected {self.topics.base}/cmd/<operator>/<noun>/<verb>",
            )
            return
        operator, name = parsed
        props = message.properties
        correlation: bytes | None = getattr(props, "CorrelationData", None)
        response_topic: str | None = getattr(props, "ResponseTopic", None)
        raw = message.payload if isinstance(message.payload, bytes) else b""
        now = self.clock()
        params: dict[str, Any] = {}
        transaction: str | None = None
        reply_to = self.topics.reply(operator)
        try:
            if response_topic is not None:
                if not self.topics.allowed_response_topic(operator, response_topic):
                    raise Refused(
                        "bad_response_topic", f"response topic must be {reply_to} or below it"
                    )
                reply_to = response_topic
            env = envelope(decode(raw, self.config.mqtt.max_payload_bytes))
            transaction = env.transaction
            spec = self._admit(operator, name, env, correlation, now)
            params = validate(env.fields, spec.schema)
            ctx = Context(
                self.config, self.router, self.devices, self.ops, operator, now, self.operations
            )
            reply: dict[str, Any] = {"status": "ok", "result": await spec.handler(ctx, params)}
        except Refused as exc:
            reply = {"status": "error", "code": exc.code, "message": exc.message}
        except Exception as exc:
            log.exception("mqtt_command_failed", command=name, operator=operator)
            reply = {"status": "error", "code": "internal", "message": str(exc)}
        await self._journal(
            operator, name, params, reply, now, request_key(correlation, transaction)
        )
        reply |= {"command": name, "transaction": transaction}
        await self._reply(reply_to, reply, correlation)
        log.info(
            "mqtt_command",
            operator=operator,
            command=name,
            status=reply["status"],
            code=reply.get("code"),
            ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def _admit(
        self, operator: str, name: str, env: Envelope, correlation: bytes | None, now: datetime
    ) -> Spec:
        """The command's spec, if this operator may run this request now; else Refused."""
        spec = COMMANDS.get(name)
        if spec is None:
            raise Refused("unknown_command", f"no command {name!r}; see docs/mqtt.md")
        if not self.roles.allows(operator, spec.role):
            role = self.roles.role(operator)
            has = role.name.lower() if role else "no role on this site"
            raise Refused(
                "forbidden", f"{name} needs role {spec.role.name.lower()}; {operator}: {has}"
            )
        if self.window.stale(env.issued_at, now):
            raise Refused(
                "stale",
                f"issued_at {env.issued_at.isoformat()} is more than "
                f"{self.window.window.total_seconds():g}s from the site clock",
            )
        request_id = request_key(correlation, env.transaction)
        if request_id is None:
            raise Refused("bad_request", "transaction: required (or MQTT 5 correlation data)")
        if self.window.replayed(operator, request_id, now):
            raise Refused("replay", f"{request_id} was already received")
        return spec

    async def _journal(
        self,
        operator: str,
        name: str,
        params: dict[str, Any],
        reply: dict[str, Any],
        now: datetime,
        request: str | None,
    ) -> None:
        error = f"{reply['code']}: {reply['message']}" if reply["status"] == "error" else None
        event = OperatorCommand(
            source=operator,
            at=now,
            channel="mqtt",
            command=name,
            target=params.get("target"),
            params={k: v for k, v in params.items() if k != "target"},
            outcome=reply["status"],
            error=error,
            request=request,
        )
        try:
            await self.router.record(event)
        except Exception as exc:
            log.error("mqtt_command_not_journaled", command=name, operator=operator, error=str(exc))

    async def _reply(self, topic: str, reply: dict[str, Any], correlation: bytes | None) -> None:
        client = self._client
        props = None
        if self._v5 and correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = correlation
        try:
            if client is None:
                raise aiomqtt.MqttError("not connected")
            await client.publish(
                topic,
                json.dumps(reply, default=str),
                qos=1,
                properties=props,
                timeout=REPLY_TIMEOUT_S,
            )
        except aiomqtt.MqttError as exc:
            log.warning("mqtt_reply_dropped", topic=topic, error=str(exc), reply=reply)
