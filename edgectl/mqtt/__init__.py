"""The remote operators' MQTT interface (docs/mqtt.md)."""

from edgectl.mqtt.interface import MqttInterface

__all__ = ["MqttInterface"]
