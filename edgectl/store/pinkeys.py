"""The site's PIN keys: the keyring that keyed PIN digests are made and checked with.

A keyring is a 0600 file beside the database (``<db>.pinkeys``, not inside it, so a copied
database alone cannot be brute-forced): 32-byte keys, oldest first. The last key is the one
new PINs are digested with. A site that syncs gets its key from the hub (the hub digests the
PINs it sends with it); a site that enrolls a PIN before it has any key makes a local one.
A digest names its key (``h1:<key id>:...``), so PINs made under an older key still verify.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

KEY_BYTES = 32


def keyring_path(db_path: Path | str) -> Path:
    return Path(f"{db_path}.pinkeys")


def keyring_for(conn: sqlite3.Connection) -> Path:
    """The keyring of the database ``conn`` has open."""
    return keyring_path(conn.execute("PRAGMA database_list").fetchone()[2])


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically, readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_keys(path: Path) -> tuple[bytes, ...]:
    """The keys in ``path`` (none if it does not exist); ValueError if it is not a keyring."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ()
    if not raw or len(raw) % KEY_BYTES:
        raise ValueError(f"{path}: not a PIN keyring ({len(raw)} bytes)")
    return tuple(raw[i : i + KEY_BYTES] for i in range(0, len(raw), KEY_BYTES))


def add_key(path: Path, key: bytes) -> bool:
    """Make ``key`` the current key (kept last); return whether the keyring changed."""
    keys = read_keys(path)
    if keys and keys[-1] == key:
        return False
    write_private(path, b"".join((*(k for k in keys if k != key), key)))
    return True


def current_key(path: Path) -> bytes:
    """The key new PINs are digested with; a local one is made if the site has none yet."""
    keys = read_keys(path)
    if keys:
        return keys[-1]
    key = secrets.token_bytes(KEY_BYTES)
    add_key(path, key)
    return key
