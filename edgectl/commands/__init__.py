"""The one operator command pipeline (docs/mqtt.md, "One command pipeline"): the ``noun/verb`` table, field
schemas, roles, rate limits, timeouts and the journaling of every command with its outcome.

MQTT (``edgectl/mqtt``), the control socket (``edgectl/control.py``) and the CLI's direct
fallback all go through it. Kept import-free so that loading the config (which composes
``commands.settings``) imports nothing else.
"""
