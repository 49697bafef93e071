"""The HTTP pieces every intercom driver shares: a session with digest auth and the TLS
the settings ask for (system trust, a CA file, or a pinned certificate fingerprint), and
the errors a vendor module raises."""

from __future__ import annotations

import ssl

import aiohttp

from drivers.base import DeviceError
from drivers.intercom.settings import Intercom


class AuthFailed(Exception):
    """The device refused our credentials (HTTP 401 after the digest exchange)."""


class StreamLost(Exception):
    """The event stream ended or went silent; reconnect."""


class Refused(DeviceError):
    """The device answered an open with an error."""

    code = "device_refused"


def ssl_option(settings: Intercom) -> ssl.SSLContext | aiohttp.Fingerprint | bool:
    """What aiohttp's ``ssl=`` gets: a pinned fingerprint, a CA context, or default trust."""
    if settings.fingerprint:
        return aiohttp.Fingerprint(bytes.fromhex(settings.fingerprint.replace(":", "")))
    if settings.ca_file:
        return ssl.create_default_context(cafile=settings.ca_file)
    return True


def session(settings: Intercom) -> aiohttp.ClientSession:
    """A session that answers digest challenges (RFC 7616) with the intercom's account."""
    middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
    if settings.username:
        middlewares = (aiohttp.DigestAuthMiddleware(settings.username, settings.password),)
    connector = aiohttp.TCPConnector(ssl=ssl_option(settings), limit=4)
    return aiohttp.ClientSession(
        base_url=settings.url.rstrip("/"),
        connector=connector,
        middlewares=middlewares,
        timeout=aiohttp.ClientTimeout(total=None, connect=settings.timeout_s),
    )


def check_auth(response: aiohttp.ClientResponse, error: type[Exception] = AuthFailed) -> None:
    """Raise ``error`` (AuthFailed; Refused for an open) on a 401 after the digest exchange."""
    if response.status == 401:
        raise error(f"{response.method} {response.url.path}: 401 Unauthorized")


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None if it is larger than ``limit`` (the rest is not read)."""
    declared = response.content_length
    if declared is not None and declared > limit:
        return None
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
