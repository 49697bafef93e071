"""The live picture of every device: online or not, and its latest state.

Fed by the router from committed-or-not device events; read by the control API, MQTT
(retained per-device state) and ``edgectl gate status``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from edgectl.config import Config
from edgectl.domain import DeviceOffline, DeviceOnline, DoorContact, Event, GateState

log = structlog.get_logger(__name__)


@dataclass
class DeviceView:
    id: str
    kind: str  # gate, door, reader, camera, intercom
    online: bool = False
    since: datetime | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "online": self.online,
            "since": self.since.isoformat() if self.since else None,
            **self.state,
        }


Listener = Callable[[DeviceView], None]


class DeviceRegistry:
    def __init__(self, config: Config) -> None:
        self.views: dict[str, DeviceView] = {}
        for kind, items in (
            ("gate", config.gates),
            ("door", config.doors),
            ("reader", config.readers),
            ("camera", config.cameras.devices),
            ("intercom", config.intercoms),
        ):
            for item in items:
                self.views[item.id] = DeviceView(item.id, kind)
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def observe(self, event: Event) -> None:
        view = self.views.get(event.source)
        if view is None:
            return
        if isinstance(event, DeviceOnline | DeviceOffline):
            online = isinstance(event, DeviceOnline)
            if view.online == online and view.since is not None:
                return
            view.online, view.since = online, event.at
            if isinstance(event, DeviceOffline):
                view.state["error"] = event.error
                log.warning(
                    "device_offline", device=view.id, error=event.error, retry_in_s=event.retry_in_s
                )
            else:
                view.state.pop("error", None)
                log.info("device_online", device=view.id, kind=view.kind)
        elif isinstance(event, GateState | DoorContact):
            view.online = True
            view.state.update(event.body())
        else:
            return
        for listener in self._listeners:
            listener(view)

    def snapshot(self) -> list[dict[str, Any]]:
        return [v.to_json() for v in self.views.values()]
