"""Building the broker connection from config."""

from __future__ import annotations

import socket

import aiomqtt
from aiomqtt import ProtocolVersion, TLSParameters, Will

from edgectl.config import Config

CONNECT_TIMEOUT_S = 5.0
# Small request/reply packets: without this, Nagle plus delayed ACK adds ~40 ms a hop.
NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def client(config: Config, will: Will) -> aiomqtt.Client:
    """An unconnected client for ``config.mqtt``; enter it (``async with``) to connect."""
    m = config.mqtt
    tls = None
    if m.tls is not None:
        tls = TLSParameters(
            ca_certs=m.tls.ca_file or None,
            certfile=m.tls.cert_file or None,
            keyfile=m.tls.key_file or None,
        )
    return aiomqtt.Client(
        m.host,
        m.port,
        username=m.username or None,
        password=m.password or None,
        identifier=m.client_id or f"edgectl-{config.site.id}",
        protocol=ProtocolVersion.V5 if m.protocol == "5" else ProtocolVersion.V311,
        will=will,
        keepalive=m.keepalive_s,
        timeout=CONNECT_TIMEOUT_S,
        tls_params=tls,
        tls_insecure=m.tls.insecure if m.tls else None,
        socket_options=[NO_DELAY],
    )
