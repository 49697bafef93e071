"""Building the broker connection from config, what the broker accepts, and the reconnect
backoff."""

from __future__ import annotations

import random
import socket
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


class SiteClient(aiomqtt.Client):
    """An aiomqtt client that keeps what the broker said in CONNACK about packet size.

    aiomqtt 2.5 does not expose CONNACK properties; its ``_on_connect`` hook receives them
    (the one private hook used, see docs/decisions.md)."""

    max_packet: int = FALLBACK_MAX_PACKET

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any = None
    ) -> None:
        size = getattr(properties, "MaximumPacketSize", None)
        self.max_packet = min(int(size), FALLBACK_MAX_PACKET) if size else FALLBACK_MAX_PACKET
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def alive(self) -> bool:
        """The link is up as far as paho knows (its socket open, the state connected)."""
        return self._client.is_connected() and self._client.socket() is not None


def client(config: Config, will: Will, suffix: str = "") -> SiteClient:
    """An unconnected client for ``config.mqtt``; enter it (``async with``) to connect."""
    m = config.mqtt
    tls = None
    if m.tls is not None:
        tls = TLSParameters(
            ca_certs=m.tls.ca_file or None,
            certfile=m.tls.cert_file or None,
            keyfile=m.tls.key_file or None,
        )
    return SiteClient(
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


class Backoff:
    """Exponential backoff with full jitter: 0.25 s, 0.5 s, ... capped at ``cap`` s."""

    def __init__(self, first: float = 0.25, cap: float = 15.0) -> None:
        self.first, self.cap = first, cap
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.first * 2**self.attempt)
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)
