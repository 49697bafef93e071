"""``[[intercoms]]`` settings: every mistake names the key; the evidence hook on calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from drivers.intercom.settings import Intercom
from edgectl import config
from edgectl.domain import Command, Event, IntercomCall
from edgectl.intercoms import IntercomManager

BASE = """
[site]
id = "s1"

[[buses]]
id = "bus1"
port = "/dev/ttyUSB0"

[[gates]]
id = "g1"
bus = "bus1"

[[doors]]
id = "d1"

[[doors]]
id = "d2"
relay = { bus = "bus1", unit = 2, coil = 0 }
"""


def load(intercom: str) -> config.Config:
    return config.parse(BASE + "\n[[intercoms]]\n" + intercom)


def test_an_intercom_at_a_door_and_one_at_a_gate() -> None:
    cfg = load('id = "i1"\nvendor = "2n"\nurl = "http://10.0.0.5"\ndoor = "d1"')
    assert cfg.intercoms[0].drives_door and cfg.intercoms[0].target == "d1"
    cfg = load('id = "i1"\nvendor = "dahua"\nurl = "https://10.0.0.5"\ngate = "g1"\nrelay = 0')
    assert not cfg.intercoms[0].drives_door


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ('vendor = "2n"\nurl = "ftp://x"\ndoor = "d1"', "intercoms[0].url", "http://host"),
        ('vendor = "akuvox"\nurl = "http://x"\ndoor = "d1"', "intercoms[0].vendor", "2n"),
        ('vendor = "2n"\nurl = "http://x"\ndoor = "d1"\ngate = "g1"', "intercoms[0].door", "one"),
        ('vendor = "2n"\nurl = "http://x"\ngate = "g1"', "intercoms[0].relay", "relay = 0"),
        ('vendor = "2n"\nurl = "http://x"\ndoor = "d9"', "intercoms[0].door", "d1"),
        ('vendor = "2n"\nurl = "http://x"\ndoor = "d2"', "intercoms[0].relay", "strike relay"),
        (
            'vendor = "2n"\nurl = "https://x"\ndoor = "d1"\nfingerprint = "ab"',
            "intercoms[0].fingerprint",
            "64 hex",
        ),
        (
            'vendor = "2n"\nurl = "https://x"\ndoor = "d1"\nca_file = "/nope.pem"',
            "intercoms[0].ca_file",
            "no such file",
        ),
        (
            'vendor = "2n"\nurl = "http://x"\ndoor = "d1"\nanswer_s = 0',
            "intercoms[0].answer_s",
            "> 0",
        ),
        (
            'vendor = "2n"\nurl = "http://x"\ndoor = "d1"\ncamera = "nosuch"',
            "intercoms[0].camera",
            "expected one of []",
        ),
    ],
)
def test_mistakes_name_the_key(body: str, key: str, words: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        load(f'id = "i1"\n{body}')
    assert caught.value.key == key, caught.value
    assert words in str(caught.value)


def test_two_intercoms_may_not_drive_one_door() -> None:
    one = 'vendor = "2n"\nurl = "http://x"\ndoor = "d1"'
    with pytest.raises(config.ConfigError) as caught:
        config.parse(BASE + f'\n[[intercoms]]\nid = "i1"\n{one}\n[[intercoms]]\nid = "i2"\n{one}')
    assert caught.value.key == "intercoms[1].door"


async def test_a_ringing_call_carries_the_evidence_frame_the_hook_reserves() -> None:
    watched = Intercom(id="i1", vendor="2n", url="http://x", door="d1", camera="cam-7")
    plain = Intercom(id="i2", vendor="2n", url="http://x", door="d2", relay=0)
    asked: list[tuple[str, str, str]] = []
    sunk: list[tuple[Command | Event, ...]] = []

    def hook(camera: str, trigger: str, ref: str) -> str:
        asked.append((camera, trigger, ref))
        return f"frame-{len(asked)}"

    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    calls = IntercomManager((watched, plain), lambda: now, sunk.append)
    calls.evidence = hook
    first = calls.signal("i1", "ringing")
    second = calls.signal("i2", "ringing")
    assert isinstance(first, IntercomCall) and first.evidence_frame == "frame-1"
    assert isinstance(second, IntercomCall) and second.evidence_frame is None
    assert asked == [("cam-7", "intercom_call", "i1")] and len(sunk) == 2
    calls.stop()
    await asyncio.sleep(0)
