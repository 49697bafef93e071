"""Local callers: who a Unix user is to the command pipeline.

The control socket learns the caller's uid from the kernel (SO_PEERCRED); the CLI's direct
fallback is the process's own uid. The identity is ``local:<user name>``. Its role is the
``[[operators]]`` entry with that id if there is one; otherwise root, the daemon's own
user and members of ``[commands] local_admin_group`` are admin, and anybody else has no
role (every command is ``forbidden``).
"""

from __future__ import annotations

import grp
import os
import pwd

from edgectl.commands.roles import Role, RoleTable
from edgectl.commands.settings import CommandSettings


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def in_group(uid: int, group: str) -> bool:
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    return user.pw_gid == entry.gr_gid or user.pw_name in entry.gr_mem


def identity(uid: int, roles: RoleTable, settings: CommandSettings) -> tuple[str, Role | None]:
    operator = f"local:{user_name(uid)}"
    configured = roles.role(operator)
    if configured is not None:
        return operator, configured
    if uid in (0, os.getuid()) or in_group(uid, settings.local_admin_group):
        return operator, Role.ADMIN
    return operator, None
