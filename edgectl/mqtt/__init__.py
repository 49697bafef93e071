"""The remote operators' MQTT interface (docs/mqtt.md)."""

from edgectl.mqtt.interface import MqttInterface
from edgectl.mqtt.policy import AccessOps

__all__ = ["AccessOps", "MqttInterface"]
