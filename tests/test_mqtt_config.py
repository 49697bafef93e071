"""The [mqtt] and [[operators]] sections refuse values the interface could not work with."""

from __future__ import annotations

import pytest

from edgectl.config import ConfigError, parse

SITE = '[site]\nid = "riverside"\n'


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[[operators]]\nid = "a/b"\nrole = "guard"', "operators[0].id", "without '/'"),
        ('[[operators]]\nid = "ops+"\nrole = "guard"', "operators[0].id", "without '/'"),
        ('[[operators]]\nid = "a"\nrole = "boss"', "operators[0].role", "boss"),
        ("[mqtt]\ncommand_window_s = 0", "mqtt.command_window_s", "> 0"),
        ("[mqtt]\nmax_payload_bytes = 10", "mqtt.max_payload_bytes", "at least 256"),
        ("[mqtt]\nport = 70000", "mqtt.port", "1-65535"),
        ('[mqtt]\nbase_topic = "edgectl/#"', "mqtt.base_topic", "wildcards"),
        ('[mqtt.tls]\nca_file = "/no/ca.pem"', "mqtt.tls.ca_file", "/no/ca.pem"),
        ('[[operators]]\nid = "op 1"\nrole = "guard"', "operators[0].id", "without '/'"),
        ("[commands.viewer]\nrate_per_s = 0\nburst = 1", "commands.viewer.rate_per_s", "0 < rate"),
        ("[commands.guard]\nrate_per_s = 1\nburst = 0", "commands.guard.burst", "1 to 100000"),
        ("[commands.guard]\nburst = 5", "commands.guard.rate_per_s", "missing"),
        ('[commands.viewer]\ncredentials = "all"', "commands.viewer.credentials", "all"),
    ],
)
def test_bad_mqtt_config_names_key_and_problem(text: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(SITE + text)
    assert key in str(err.value) and problem in str(err.value)


def test_defaults_are_valid_and_base_topic_follows_site() -> None:
    config = parse(SITE + '[[operators]]\nid = "ops-alice"\nrole = "operator"')
    assert config.base_topic == "edgectl/riverside"
    assert not config.mqtt.enabled and not config.mqtt.ha_discovery
