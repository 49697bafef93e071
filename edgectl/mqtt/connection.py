"""Building the broker connection from config, and what the broker accepts."""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import Callable
from typing import Any

import aiomqtt
from aiomqtt import ProtocolVersion, TLSParameters, Will

from edgectl.config import Config

CONNECT_TIMEOUT_S = 5.0
# Without a Maximum Packet Size in CONNACK (MQTT 3.1.1, or a broker that sets none), the
# daemon still sends nothing bigger than this: mosquitto's shipped max_packet_size.
FALLBACK_MAX_PACKET = 65536
# Small request/reply packets: without this, Nagle plus delayed ACK adds ~40 ms a hop.
NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# (topic, payload, MQTT 5 properties) of every message, called from paho's read callback
Take = Callable[[str, bytes, Any], None]


class SiteClient(aiomqtt.Client):
    """An aiomqtt client that keeps what the broker said in CONNACK about packet size, and
    hands each incoming message straight to ``take`` (no queue, no task per message, so a
    flood is shed at the speed paho parses it).

    aiomqtt 2.5 exposes neither CONNACK properties nor a message callback; its
    ``_on_connect`` and ``_on_message`` hooks are overridden (see docs/decisions.md)."""

    max_packet: int = FALLBACK_MAX_PACKET
    take: Take | None = None
    pace: float | None = None  # acks per second, if this client paces its reads (see ``acks``)
    _unacked: collections.deque[int]
    _ack_wake: asyncio.Event

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if self.take is None:
            super()._on_message(client, userdata, message)
            return
        payload = message.payload if isinstance(message.payload, bytes) else b""
        self.take(message.topic, payload, getattr(message, "properties", None))
        if self.pace is not None and message.qos > 0:
            self._unacked.append(message.mid)
            self._ack_wake.set()

    async def acks(self) -> None:
        """Acknowledge QoS 1 messages at most ``pace`` a second. The broker sends a client
        only so many unacknowledged messages (max_inflight_messages), so this bounds what
        a flood on this connection costs the daemon; the broker queues, then drops, the rest
        of it for this connection only."""
        assert self.pace is not None
        tick = 0.01
        per_tick = max(1, int(self.pace * tick))
        while True:
            await self._ack_wake.wait()
            self._ack_wake.clear()
            while self._unacked:
                for _ in range(min(per_tick, len(self._unacked))):
                    self._client.ack(self._unacked.popleft(), 1)
                await asyncio.sleep(tick)

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any = None
    ) -> None:
        size = getattr(properties, "MaximumPacketSize", None)
        self.max_packet = min(int(size), FALLBACK_MAX_PACKET) if size else FALLBACK_MAX_PACKET
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def alive(self) -> bool:
        """The link is up as far as paho knows (its socket open, the state connected)."""
        return self._client.is_connected() and self._client.socket() is not None


def client(
    config: Config,
    will: Will | None,
    take: Take | None = None,
    *,
    suffix: str = "",
    pace: float | None = None,
) -> SiteClient:
    """An unconnected client for ``config.mqtt``; enter it (``async with``) to connect."""
    m = config.mqtt
    tls = None
    if m.tls is not None:
        tls = TLSParameters(
            ca_certs=m.tls.ca_file or None,
            certfile=m.tls.cert_file or None,
            keyfile=m.tls.key_file or None,
        )
    made = SiteClient(
        m.host,
        m.port,
        username=m.username or None,
        password=m.password or None,
        identifier=(m.client_id or f"edgectl-{config.site.id}") + suffix,
        protocol=ProtocolVersion.V5 if m.protocol == "5" else ProtocolVersion.V311,
        will=will,
        keepalive=m.keepalive_s,
        timeout=CONNECT_TIMEOUT_S,
        tls_params=tls,
        tls_insecure=m.tls.insecure if m.tls else None,
        socket_options=[NO_DELAY],
    )
    made.take = take
    made.pace = pace
    made._unacked = collections.deque()
    made._ack_wake = asyncio.Event()
    if pace is not None:
        made._client.manual_ack_set(True)
    return made
