"""WS-Discovery of ONVIF cameras (the ``wsdiscovery`` package): who is on the LAN.

A probe for ``NetworkVideoTransmitter`` goes out by multicast; every camera that answers
gives its service addresses and its scopes, which by ONVIF convention carry its name
(``onvif://www.onvif.org/name/...``) and model (``.../hardware/...``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from wsdiscovery import QName
from wsdiscovery.discovery import ThreadedWSDiscovery

ONVIF_NVT = QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")
SCOPE_PREFIX = "onvif://www.onvif.org/"


@dataclass(frozen=True, slots=True)
class Found:
    address: str  # host:port of its first service address
    name: str
    model: str
    xaddrs: tuple[str, ...]


def scope_values(scopes: Iterable[str], key: str) -> list[str]:
    """The values of ONVIF scopes ``onvif://www.onvif.org/<key>/<value>`` (URL-decoded)."""
    prefix = f"{SCOPE_PREFIX}{key}/"
    return [
        unquote(s[len(prefix) :]) for s in scopes if s.startswith(prefix) and len(s) > len(prefix)
    ]


def found(xaddrs: Iterable[str], scopes: Iterable[str]) -> Found:
    xaddrs, scopes = tuple(xaddrs), list(scopes)
    address = ""
    for xaddr in xaddrs:
        parts = urlsplit(xaddr)
        if parts.hostname:
            address = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
            break
    name = " ".join(scope_values(scopes, "name"))
    model = " ".join(scope_values(scopes, "hardware"))
    return Found(address, name, model, xaddrs)


def discover(timeout_s: float = 3.0) -> list[Found]:
    """Probe and wait ``timeout_s`` for answers (blocks; run it off the event loop)."""
    wsd = ThreadedWSDiscovery()
    wsd.start()
    try:
        services = wsd.searchServices(types=[ONVIF_NVT], timeout=timeout_s)
        cams = [found(s.getXAddrs(), [str(x) for x in s.getScopes()]) for s in services]
    finally:
        wsd.stop()
    return sorted(cams, key=lambda c: c.address)
