"""Home Assistant MQTT discovery (off by default): gates and doors as read-only entities.

Commands stay on the authenticated ``cmd`` tree; Home Assistant only shows state.
"""

from __future__ import annotations

from typing import Any

from edgectl.config import Config
from edgectl.mqtt.topics import Topics


def discovery(config: Config, topics: Topics) -> list[tuple[str, dict[str, Any]]]:
    """(retained config topic, config payload) for every entity."""
    site, prefix = config.site.id, config.mqtt.ha_prefix
    device = {
        "identifiers": [f"edgectl_{site}"],
        "name": config.site.name or site,
        "manufacturer": "edgectl",
    }
    common = {
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    out: list[tuple[str, dict[str, Any]]] = []
    for kind, items in (("gate", config.gates), ("door", config.doors)):
        for item in items:
            uid = f"edgectl_{site}_{item.id}"
            label = item.name or item.id
            out.append(
                (
                    f"{prefix}/binary_sensor/{uid}/config",
                    {
                        **common,
                        "name": f"{label} online",
                        "unique_id": f"{uid}_online",
                        "device_class": "connectivity",
                        "state_topic": topics.state(item.id),
                        "value_template": "{{ 'ON' if value_json.online else 'OFF' }}",
                    },
                )
            )
            if kind == "gate":
                out.append(
                    (
                        f"{prefix}/sensor/{uid}/config",
                        {
                            **common,
                            "name": f"{label} state",
                            "unique_id": f"{uid}_state",
                            "state_topic": topics.state(item.id),
                            "value_template": "{{ value_json.state | default('unknown') }}",
                        },
                    )
                )
    return out
