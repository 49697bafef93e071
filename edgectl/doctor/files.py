"""Who owns the store and the config, and who may read the config (it holds secrets)."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from edgectl.doctor import Check

SERVICE_USER = "edgectl"


def _service_uid(user: str) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _owner(st: os.stat_result) -> str:
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return str(st.st_uid)


def config_file(path: Path, user: str = SERVICE_USER) -> Check:
    """Not readable by others (it holds the hub token and broker password), owned by the service."""
    name = "config file"
    st = path.stat()
    if st.st_mode & stat.S_IROTH:
        return Check(
            name,
            False,
            f"{path} is world-readable (mode {stat.S_IMODE(st.st_mode):04o}); it holds secrets",
            f"chmod 600 {path}",
        )
    uid = _service_uid(user)
    if uid is not None and st.st_uid not in (uid, 0):
        return Check(
            name,
            False,
            f"{path} is owned by {_owner(st)}, not by {user} or root",
            f"chown {user}:{user} {path}",
        )
    return Check(name, True, f"{path} mode {stat.S_IMODE(st.st_mode):04o}, owner {_owner(st)}")


def store_file(path: Path, user: str = SERVICE_USER) -> Check:
    """The service user must own the database (and its folder), or the daemon cannot write it."""
    name = "database owner"
    uid = _service_uid(user)
    if uid is None:
        return Check(name, True, f"no {user!r} user on this box (not installed as a service)")
    for target in (path, path.parent):
        try:
            st = target.stat()
        except FileNotFoundError:
            continue
        if st.st_uid != uid:
            return Check(
                name,
                False,
                f"{target} is owned by {_owner(st)}; the service runs as {user}",
                f"chown -R {user}:{user} {path.parent}",
            )
    return Check(name, True, f"{path} owned by {user}")
