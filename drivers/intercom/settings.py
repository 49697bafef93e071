"""The ``[[intercoms]]`` settings type (composed into ``edgectl.config.Config``)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from edgectl.confload import Invalid

Vendor = Literal["2n", "hikvision", "dahua"]


@dataclass(frozen=True, slots=True)
class Intercom:
    """An IP intercom: a reader for cards and codes, a call button, and a door relay.

    ``door`` or ``gate`` names what it guards. ``relay`` is the device's own switch (2N),
    door (Hikvision) or channel (Dahua) number wired to that door's strike; 0 means the
    intercom drives nothing and the target opens through its own driver (a gate on a bus).
    """

    id: str
    vendor: Vendor
    url: str  # http://host[:port] or https://host[:port]
    username: str = ""
    password: str = ""
    door: str = ""
    gate: str = ""
    relay: int = 1
    direction: Literal["in", "out", "none"] = "in"
    answer_s: float = 30.0  # a call nobody answers within this is missed
    butler: str = ""  # staff id of the butler told about a missed call
    camera: str = ""  # camera watching the intercom, for an evidence frame of each call
    ca_file: str = ""  # HTTPS: trust this CA (PEM) instead of the system's
    fingerprint: str = ""  # HTTPS: or pin the device certificate's SHA-256 (hex)
    timeout_s: float = 3.0  # per request, and how long an open may wait for its confirmation
    stall_s: float = 30.0  # an event stream silent this long (no heartbeat) is reconnected
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    auth_backoff_s: float = 300.0  # after the device refuses our credentials
    max_part_bytes: int = 65536  # event parts larger than this are skipped

    def validate(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid("url", f"expected http://host or https://host, got {self.url!r}")
        if bool(self.door) == bool(self.gate):
            raise Invalid("door", "expected exactly one of 'door' or 'gate' for an intercom")
        if self.gate and self.relay:
            raise Invalid("relay", "a gate opens through its own driver: set relay = 0")
        if not 0 <= self.relay <= 16:
            raise Invalid("relay", f"expected 0-16, got {self.relay}")
        fp = self.fingerprint.replace(":", "").lower()
        if fp and (len(fp) != 64 or set(fp) - set(string.hexdigits.lower())):
            raise Invalid("fingerprint", "expected a SHA-256 fingerprint: 64 hex digits")
        if self.ca_file and not Path(self.ca_file).is_file():
            raise Invalid("ca_file", f"no such file {self.ca_file!r}")
        for key in ("answer_s", "timeout_s", "stall_s", "backoff_base_s", "auth_backoff_s"):
            if getattr(self, key) <= 0:
                raise Invalid(key, f"expected seconds > 0, got {getattr(self, key)}")
        if self.backoff_max_s < self.backoff_base_s:
            raise Invalid("backoff_max_s", "expected at least backoff_base_s")
        if self.max_part_bytes < 1024:
            raise Invalid("max_part_bytes", f"expected at least 1024, got {self.max_part_bytes}")

    @property
    def target(self) -> str:
        return self.door or self.gate

    @property
    def drives_door(self) -> bool:
        """The intercom's relay is the strike of the door it guards."""
        return bool(self.door and self.relay)
