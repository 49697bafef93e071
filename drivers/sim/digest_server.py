"""Server side of HTTP digest authentication (RFC 7616: MD5 and SHA-256, qop=auth) for the
simulated devices, as an aiohttp middleware; ``verdict`` is the same check for RTSP.

Written independently of the client (the drivers use aiohttp's ``DigestAuthMiddleware``),
so a test passing means two implementations agree. Like real intercoms, it counts wrong
credentials and locks the account after ``lock_after`` of them in a row.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NONCE_TTL_S = 300.0


def _hash(algorithm: str, text: str) -> str:
    name = "sha256" if algorithm.upper().startswith("SHA-256") else "md5"
    return hashlib.new(name, text.encode()).hexdigest()


def parse_params(header: str) -> dict[str, str]:
    """``k=v, k="v, w"`` pairs of a Digest header (after the scheme word)."""
    out: dict[str, str] = {}
    i, n = 0, len(header)
    while i < n:
        while i < n and header[i] in " ,":
            i += 1
        eq = header.find("=", i)
        if eq < 0:
            break
        key = header[i:eq].strip().lower()
        i = eq + 1
        if i < n and header[i] == '"':
            end = i + 1
            value = []
            while end < n and header[end] != '"':
                if header[end] == "\\" and end + 1 < n:
                    end += 1
                value.append(header[end])
                end += 1
            out[key] = "".join(value)
            i = end + 1
        else:
            end = header.find(",", i)
            end = n if end < 0 else end
            out[key] = header[i:end].strip()
            i = end
    return out


@dataclass
class DigestGuard:
    username: str
    password: str
    realm: str
    algorithm: str = "MD5"
    lock_after: int = 5
    bad_attempts: int = 0  # requests that carried wrong credentials
    failed_in_a_row: int = 0
    locked: bool = False
    _nonces: dict[str, float] = field(default_factory=dict)
    opaque: str = field(default_factory=lambda: secrets.token_hex(8))

    def forget_nonces(self) -> None:
        """A reboot: every nonce issued before is stale."""
        self._nonces.clear()

    def _challenge(self, stale: bool = False) -> str:
        """A fresh nonce, as the value of a ``WWW-Authenticate`` header."""
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = time.monotonic()
        return (
            f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", '
            f'opaque="{self.opaque}", algorithm={self.algorithm}'
            + (", stale=true" if stale else "")
        )

    def _expected(self, p: dict[str, str], method: str) -> str:
        alg = p.get("algorithm", self.algorithm)
        ha1 = _hash(alg, f"{self.username}:{self.realm}:{self.password}")
        ha2 = _hash(alg, f"{method}:{p.get('uri', '')}")
        if p.get("qop"):
            tail = f"{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p['qop']}"
            return _hash(alg, f"{ha1}:{tail}:{ha2}")
        return _hash(alg, f"{ha1}:{p.get('nonce')}:{ha2}")

    def verdict(self, method: str, uris: Collection[str], authorization: str) -> str | None:
        """None if ``authorization`` is good for ``method`` on one of ``uris``, else the
        ``WWW-Authenticate`` challenge to answer with (HTTP and RTSP alike)."""
        if not authorization.lower().startswith("digest "):
            return self._challenge()
        p = parse_params(authorization[7:])
        issued = self._nonces.get(p.get("nonce", ""))
        if issued is None or time.monotonic() - issued > NONCE_TTL_S:
            return self._challenge(stale=True)
        good = (
            not self.locked
            and p.get("username") == self.username
            and p.get("realm") == self.realm
            and p.get("uri") in uris
            and secrets.compare_digest(p.get("response", ""), self._expected(p, method))
        )
        if good:
            self.failed_in_a_row = 0
            return None
        self.bad_attempts += 1
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= self.lock_after:
            self.locked = True  # like a real device: the account is locked out
        return self._challenge()

    def check(self, request: web.Request) -> web.Response | None:
        """None if the request is authorised, else the 401 to send."""
        challenge = self.verdict(
            request.method,
            (request.path_qs, request.raw_path),
            request.headers.get("Authorization", ""),
        )
        if challenge is None:
            return None
        return web.Response(
            status=401, headers={"WWW-Authenticate": challenge}, text="Unauthorized"
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = self.check(request)
        if refusal is not None:
            return refusal
        return await handler(request)
