"""An outside operator's console made of the stock mosquitto_pub and mosquitto_sub (MQTT
3.1.1 over TLS with a password): the ``transaction`` field and the documented reply topic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SecureBroker
from tests.mqtt_console import BASE, GATE, now_iso, running_site


def tls_login(broker: SecureBroker, user: str) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(broker.tls_port), "--cafile", str(broker.ca),
            "-u", user, "-P", broker.users[user], "-V", "mqttv311"]  # fmt: skip


async def read_until(
    proc: asyncio.subprocess.Process, done: Callable[[dict[str, str]], bool], timeout: float = 5
) -> dict[str, str]:
    """``mosquitto_sub -v`` lines as topic -> latest payload, until ``done`` says so."""
    assert proc.stdout is not None
    seen: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        while not done(seen):
            line = (await proc.stdout.readline()).decode().rstrip("\n")
            topic, _, payload = line.partition(" ")
            seen[topic] = payload
    return seen


async def test_stock_clients_close_gate_with_transaction_and_see_state_and_events(
    tmp_path: Path, secure_broker: SecureBroker
) -> None:
    async with running_site(tmp_path, secure_broker) as site:
        sub = await asyncio.create_subprocess_exec(
            "mosquitto_sub", *tls_login(secure_broker, "gina"), "-v",
            "-t", f"{BASE}/availability", "-t", f"{BASE}/reply/gina",
            "-t", f"{BASE}/device/{GATE}/state", "-t", f"{BASE}/event/operator_command",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            state_topic = f"{BASE}/device/{GATE}/state"
            seen = await read_until(
                sub, lambda s: '"closed"' in s.get(state_topic, "") and f"{BASE}/availability" in s
            )  # retained, or live as soon as the first poll reports the gate
            assert seen[f"{BASE}/availability"] == "online"
            state = json.loads(seen[state_topic])
            assert (state["id"], state["state"], state["online"]) == (GATE, "closed", True)
            request = {"issued_at": now_iso(), "transaction": "console-42", "target": GATE}
            pub = await asyncio.create_subprocess_exec(
                "mosquitto_pub", *tls_login(secure_broker, "gina"), "-q", "1",
                "-t", f"{BASE}/cmd/gina/gate/close", "-m", json.dumps(request),
            )  # fmt: skip
            assert await pub.wait() == 0
            lines = await read_until(
                sub, lambda s: {f"{BASE}/reply/gina", f"{BASE}/event/operator_command"} <= set(s)
            )
            reply = json.loads(lines[f"{BASE}/reply/gina"])
            assert reply == {"status": "ok", "result": {"target": GATE},
                             "command": "gate/close", "transaction": "console-42"}  # fmt: skip
            event = json.loads(lines[f"{BASE}/event/operator_command"])
            assert (event["source"], event["body"]["command"]) == ("gina", "gate/close")
            assert site.coils == ["close"]
        finally:
            sub.terminate()
            await sub.wait()


async def test_stock_pub_cannot_write_under_another_id(secure_broker: SecureBroker) -> None:
    """mosquitto_pub as victor to alice's command topic: the broker drops it (ACL)."""
    sub = await asyncio.create_subprocess_exec(
        "mosquitto_sub", *tls_login(secure_broker, "edgectl"), "-v", "-t", f"{BASE}/cmd/#",
        "-W", "1", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(0.3)
    for user in ("victor", "alice"):
        pub = await asyncio.create_subprocess_exec(
            "mosquitto_pub", *tls_login(secure_broker, user), "-q", "1",
            "-t", f"{BASE}/cmd/alice/gate/open", "-m", f"from {user}",
        )  # fmt: skip
        assert await pub.wait() == 0  # 3.1.1 has no negative PUBACK: the broker drops silently
    out, _ = await sub.communicate()
    assert out.decode().splitlines() == [f"{BASE}/cmd/alice/gate/open from alice"]
