"""No two things the daemon writes or opens may be one file.

``control_socket = store.path`` once made the daemon delete its own database. The store
(with the ``-wal``, ``-shm`` and ``.lock`` files beside it) and the control socket are
written; serial ports are opened read-write; TLS files are read (two sections may share a
CA file). A written or opened path that is also any other configured path is refused,
after resolving symlinks.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from edgectl.confload import Invalid

if TYPE_CHECKING:
    from edgectl.config import Config

STORE_SIDE_FILES = ("-wal", "-shm", ".lock")


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _tls(section: str, tls: object | None) -> list[tuple[str, str]]:
    if tls is None:
        return []
    keys = ("ca_file", "cert_file", "key_file")
    return [(f"{section}.tls.{k}", getattr(tls, k)) for k in keys if getattr(tls, k)]


def check_paths(cfg: Config) -> None:
    """Raise Invalid naming the second of two configured paths that are one file."""
    store = cfg.store.path
    owned = [("store.path", store)]
    owned += [(f"store.path (its {s} file)", f"{store}{s}") for s in STORE_SIDE_FILES]
    owned.append(("daemon.control_socket", cfg.daemon.control_socket))
    owned += [(f"buses[{i}].port", b.port) for i, b in enumerate(cfg.buses) if b.kind == "rtu"]
    owned += [(f"readers[{i}].port", r.port) for i, r in enumerate(cfg.readers)]
    read = _tls("mqtt", cfg.mqtt.tls) + _tls("hub", cfg.hub.tls)
    seen: dict[str, str] = {}
    for key, path in owned:
        real = _real(path)
        if real in seen and not seen[real].startswith(("buses[", "readers[")):
            raise Invalid(key, f"{path!r} is the same file as {seen[real]}")
        seen.setdefault(real, key)
    for key, path in read:
        other = seen.get(_real(path))
        if other is not None:
            raise Invalid(key, f"{path!r} is the same file as {other}")
