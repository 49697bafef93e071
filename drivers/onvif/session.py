"""One ONVIF session with one camera, on onvif-zeep-async, every call bounded in time.

``connect`` follows what Home Assistant's onvif integration does and goes further where
a site needs it:

- the camera's clock is read first without credentials (``GetSystemDateAndTime``) and
  every WS-UsernameToken digest is then signed with the camera's time, not ours;
- credentials are tried once, with ``GetDeviceInformation``, before anything else, so a
  wrong password costs the camera's account one failed login per attempt, not one per
  service (the library's ``update_xaddrs`` alone makes two);
- each call has its own timeout, so a slow camera, a SOAP fault or malformed XML fails
  that call only;
- replies are parsed by zeep with DTDs, entities and external references forbidden and
  libxml2's size limits left on (the library turns them off).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import zeep.exceptions
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError
from onvif.settings import DEFAULT_SETTINGS
from onvif.util import is_auth_error, stringify_onvif_error

from drivers.onvif.settings import Camera

# Harden zeep's parser for every ONVIF reply (the WSDLs the library ships have no DTDs).
DEFAULT_SETTINGS.xml_huge_tree = False
DEFAULT_SETTINGS.forbid_dtd = True
DEFAULT_SETTINGS.forbid_entities = True
DEFAULT_SETTINGS.forbid_external = True

T = TypeVar("T")
# Making a service client parses its WSDL (local files, CPU only; the first time in a
# process takes seconds on a busy box), so it gets a bound of its own, not the camera's.
SETUP_S = 60.0
PULLPOINT_NS = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"


class CameraError(Exception):
    """The camera could not be reached or gave an answer we cannot use."""


class CameraAuthError(CameraError):
    """The camera refused our credentials."""


class CameraRefused(CameraError):
    """The camera answered with a SOAP fault (not about credentials): it will not do that."""


@dataclass(frozen=True, slots=True)
class CameraInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    clock_skew_s: float
    profile: str
    snapshot_uri: str | None
    stream_uri: str | None
    ptz: bool
    pullpoint: bool


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, zeep.exceptions.Fault):
        return f"SOAP fault: {stringify_onvif_error(exc)}"
    return f"{type(exc).__name__}: {exc}"[:300]


def camera_skew(reply: Any, now: datetime) -> timedelta:
    """Camera time minus ``now`` from a GetSystemDateAndTime reply."""
    utc = getattr(reply, "UTCDateTime", None)
    d, t = getattr(utc, "Date", None), getattr(utc, "Time", None)
    if d is None or t is None:
        raise CameraError("GetSystemDateAndTime: malformed reply (no UTCDateTime)")
    try:
        at = datetime(d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second, tzinfo=UTC)
    except (TypeError, ValueError) as exc:
        raise CameraError(f"GetSystemDateAndTime: bad date: {exc}") from None
    return at - now


class OnvifSession:
    """Connect, then call the camera's services; raise CameraError/CameraAuthError."""

    def __init__(self, settings: Camera) -> None:
        self.settings = settings
        self.camera = ONVIFCamera(
            settings.host,
            settings.port,
            settings.username or None,
            settings.password or None,
            adjust_time=False,  # we measure the skew ourselves, once, see connect()
        )
        self.info: CameraInfo | None = None

    async def call(self, what: str, awaitable: Awaitable[T], timeout_s: float = 0.0) -> T:
        """Await one ONVIF call within the camera's timeout; classify its failure."""
        try:
            async with asyncio.timeout(timeout_s or self.settings.timeout_s):
                return await awaitable
        except zeep.exceptions.Fault as exc:
            if is_auth_error(exc):
                raise CameraAuthError(f"{what}: {describe(exc)}") from None
            raise CameraRefused(f"{what}: {describe(exc)}") from None
        except (
            TimeoutError,
            ONVIFError,
            zeep.exceptions.Error,
            aiohttp.ClientError,
            OSError,
            AttributeError,
            TypeError,
            ValueError,
        ) as exc:  # malformed replies surface as missing attributes or bad values
            raise CameraError(f"{what}: {describe(exc)}") from None

    async def connect(self) -> CameraInfo:
        cam = self.camera
        device = await self.call("device service", cam.create_devicemgmt_service(), SETUP_S)
        reply = await self.call("GetSystemDateAndTime", device.authless_GetSystemDateAndTime())
        skew = camera_skew(reply, datetime.now(UTC))
        cam.dt_diff = skew  # sign every token with the camera's clock
        await device.close()
        cam.services.pop(device.binding_key, None)
        device = await self.call("device service", cam.create_devicemgmt_service(), SETUP_S)
        info = await self.call("GetDeviceInformation", device.GetDeviceInformation())
        if not getattr(info, "Model", None):
            raise CameraError("GetDeviceInformation: malformed reply (no Model)")
        caps = await self.call("GetCapabilities", cam.get_capabilities()) or {}
        events = caps.get("Events") or {}
        media = await self.call("media service", cam.create_media_service(), SETUP_S)
        profiles = await self.call("GetProfiles", media.GetProfiles())
        if not profiles:
            raise CameraError("GetProfiles: the camera has no media profile")
        wanted = self.settings.profile
        profile = next((p for p in profiles if p.token == wanted), None) if wanted else profiles[0]
        if profile is None:
            raise CameraError(f"no media profile {wanted!r}; has {[p.token for p in profiles]}")
        snapshot = await self.call("GetSnapshotUri", cam.get_snapshot_uri(profile.token))
        stream = await self._stream_uri(media, profile.token)
        ptz = bool(caps.get("PTZ")) and getattr(profile, "PTZConfiguration", None) is not None
        if ptz:  # its WSDL is parsed now, not on an operator's first move
            await self.call("ptz service", cam.create_ptz_service(), SETUP_S)
        self.info = CameraInfo(
            manufacturer=str(info.Manufacturer or ""),
            model=str(info.Model),
            firmware=str(info.FirmwareVersion or ""),
            serial=str(info.SerialNumber or ""),
            clock_skew_s=round(skew.total_seconds(), 1),
            profile=profile.token,
            snapshot_uri=snapshot,
            stream_uri=stream,
            ptz=ptz,
            pullpoint=bool(events.get("WSPullPointSupport")),
        )
        return self.info

    async def _stream_uri(self, media: Any, profile: str) -> str | None:
        request = {
            "ProfileToken": profile,
            "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
        }
        try:
            reply = await self.call("GetStreamUri", media.GetStreamUri(request))
        except CameraAuthError:
            raise
        except CameraError:
            return None
        return str(reply.Uri) if getattr(reply, "Uri", None) else None

    async def alive(self) -> None:
        """A cheap authenticated call: raises if the camera is gone or refuses us now."""
        device = await self.call("device service", self.camera.create_devicemgmt_service(), SETUP_S)
        await self.call("GetDeviceInformation", device.GetDeviceInformation())

    async def close(self) -> None:
        try:
            async with asyncio.timeout(2):
                await self.camera.close()
        except (TimeoutError, OSError, aiohttp.ClientError):
            pass
