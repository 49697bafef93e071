"""Who may do what: the site's role table, for MQTT operators and local control-socket users."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Protocol


class Role(IntEnum):
    """Roles are ordered: each one may do everything the ones below it may."""

    VIEWER = 1
    GUARD = 2
    OPERATOR = 3
    ADMIN = 4


class OperatorEntry(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...


class RoleTable:
    def __init__(self, operators: Iterable[OperatorEntry]) -> None:
        self._roles = {op.id: Role[op.role.upper()] for op in operators}

    def role(self, operator: str) -> Role | None:
        return self._roles.get(operator)

    def allows(self, operator: str, needed: Role) -> bool:
        role = self._roles.get(operator)
        return role is not None and role >= needed

    def ids(self, at_least: Role = Role.VIEWER) -> list[str]:
        return sorted(op for op, role in self._roles.items() if role >= at_least)
