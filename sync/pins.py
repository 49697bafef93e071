"""PINs at the hub and on the wire: keyed digests only, with one secret key per site.

The hub creates a 32-byte key for each site (``KeyDir``: one 0600 file per site in a 0700
directory beside the hub database, not in it, so a copied database alone reveals nothing).
A credential's ``pin``/``duress_pin`` given in clear to the hub are replaced by
``pin_digest``/``duress_digest`` (``rules.access.pin_digest`` with the key) before anything
is stored; ``/changes`` and ``/snapshot`` carry only those. The site pulls its key from
``/v1/sites/{site}/pin-key`` (authenticated, over TLS in production) into its keyring
(``edgectl.store.pinkeys``) and digests a PIN typed at a keypad the same way to compare.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from edgectl.store.pinkeys import KEY_BYTES, read_keys, write_private
from rules.access import pin_digest


def key_record(key: bytes, data: dict[str, Any]) -> dict[str, Any]:
    """A credential record with any clear PIN replaced by its keyed digest."""
    out = {k: v for k, v in data.items() if k not in ("pin", "duress_pin")}
    for clear, keyed in (("pin", "pin_digest"), ("duress_pin", "duress_digest")):
        if isinstance(data.get(clear), str):
            out[keyed] = pin_digest(data[clear], key)
    return out


class KeyDir:
    """The hub's per-site PIN keys: ``<dir>/<site>.key``, created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def key(self, site: str) -> bytes:
        file = self.path / f"{site}.key"
        keys = read_keys(file)
        if keys:
            return keys[-1]
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        write_private(file, key)
        return key

    def remove(self, site: str) -> None:
        (self.path / f"{site}.key").unlink(missing_ok=True)
