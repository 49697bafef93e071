"""The hub and the broker, reached as the daemon reaches them: with its credentials."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import aiomqtt

from edgectl.config import Config
from edgectl.doctor import Check
from edgectl.mqtt import connection
from sync.client import ssl_context

TIMEOUT_S = 5.0
# what the hub's refusal means, and what to do about it
HUB_REFUSALS = {
    401: ("{base} refused the token (401)", "put this site's token from the hub in [hub] token"),
    403: (
        "{base}: token is not for site {site!r} (403)",
        "check [site] id and [hub] token belong together",
    ),
    404: (
        "{base}: no sync API at this path (404)",
        "set [hub] url to the hub's base URL, without /v1",
    ),
}


async def hub(cfg: Config) -> Check:
    """An authenticated read of this site's work orders: token, scheme and path all matter."""
    base = cfg.hub.url.rstrip("/")
    url = f"{base}/v1/sites/{cfg.site.id}/workorders?limit=1"
    headers = {"Authorization": f"Bearer {cfg.hub.token}"}
    connector = aiohttp.TCPConnector(ssl=ssl_context(cfg.hub.tls) or True)
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)
            ) as http,
            http.get(url, headers=headers, allow_redirects=False) as resp,
        ):
            status = resp.status
    except aiohttp.ClientConnectorCertificateError as exc:
        return Check(
            "hub",
            False,
            f"{base}: certificate not trusted: {exc.certificate_error}",
            "set [hub.tls] ca_file to the hub's CA",
        )
    except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
        if "WRONG_VERSION_NUMBER" in str(exc).upper() or "wrong version number" in str(exc):
            return Check(
                "hub",
                False,
                f"{base} does not speak TLS (https against plain http)",
                "use http:// in [hub] url, or enable TLS on the hub",
            )
        return Check("hub", False, f"{base}: TLS failed: {exc}", "check [hub.tls] and the URL")
    except aiohttp.ClientConnectorError as exc:
        return Check(
            "hub",
            False,
            f"{base} unreachable: {exc.os_error}",
            "check [hub] url and the network route to the hub",
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(
            "hub",
            False,
            f"{base}: {type(exc).__name__}: {exc}",
            "check [hub] url; is a hub listening there?",
        )
    if status == 200:
        return Check("hub", True, f"{base}: token accepted for site {cfg.site.id}")
    if status in HUB_REFUSALS:
        problem, hint = HUB_REFUSALS[status]
        return Check("hub", False, problem.format(base=base, site=cfg.site.id), hint)
    return Check("hub", False, f"{base}: unexpected HTTP {status}", "look at the hub's logs")


REFUSALS = {
    4: "bad user name or password",
    5: "not authorised (wrong password, or a user the broker does not allow)",
    134: "bad user name or password",
    135: "not authorised (wrong password, or a user the broker does not allow)",
}


async def broker(cfg: Config) -> Check:
    """Log in to the broker with the configured user, password and TLS, then leave."""
    m = cfg.mqtt
    where = f"{m.host}:{m.port}"
    # Its own client id: logging in as the daemon's id would kick the running daemon off.
    client = connection.client(cfg, None, suffix="-doctor")
    try:
        async with asyncio.timeout(TIMEOUT_S + 1):
            async with client:
                pass
    except aiomqtt.MqttCodeError as exc:
        rc: Any = exc.rc  # paho gives an int or a ReasonCode
        code = int(getattr(rc, "value", rc) or 0)
        reason = REFUSALS.get(code, str(exc))
        return Check(
            "mqtt broker",
            False,
            f"{where} refused login for {m.username or '(anonymous)'}: {reason}",
            "check [mqtt] username and password against the broker's password file",
        )
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        return Check(
            "mqtt broker",
            False,
            f"{where} unreachable: {exc or type(exc).__name__}",
            "check [mqtt] host/port/tls; is the broker running?",
        )
    return Check("mqtt broker", True, f"{where}: logged in as {m.username or '(anonymous)'}")
