"""The SDK against servers that require TLS and a login, as production brokers (Solace Cloud's MQTT
service) and Memorystore do: `ddiscord dev services --secured` starts a Mosquitto whose only
listener speaks TLS with a password file and a redis-server with only a TLS port and one ACL user,
both with certificates of a CA it generates. The client takes the credentials in its URLs and the
CA from DDISCORD_MESH_CA_FILE and DDISCORD_REDIS_CA_FILE, as every DDiscord process does; stock
clients (paho-mqtt, redis-py) talk to the same servers beside it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import redis

import ddiscord
from discord import envelope
from servers import ddiscord_binary

USER = {"id": "80351110224678912", "username": "nelly", "discriminator": "0", "global_name": "Nelly", "avatar": None}


@pytest.fixture
def secured() -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen(
        [str(ddiscord_binary()), "dev", "services", "--redis", "--mosquitto", "--secured"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        assert proc.stderr is not None
        raise RuntimeError(f"ddiscord dev services --secured failed: {proc.stderr.read().decode(errors='replace')}")
    yield json.loads(line)
    proc.stdin.close()
    proc.wait(15)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def paho_publisher(broker: dict[str, Any]) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tls-test-{uuid.uuid4().hex[:8]}")
    client.username_pw_set(broker["username"], broker["password"])
    client.tls_set(ca_certs=broker["ca_file"])
    client.connect("127.0.0.1", broker["port"])
    client.loop_start()
    return client


async def test_subscribe_and_read_the_cache_over_tls(secured: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    broker, cache = secured["mosquitto"], secured["redis"]
    monkeypatch.setenv("DDISCORD_MESH_CA_FILE", broker["ca_file"])
    monkeypatch.setenv("DDISCORD_REDIS_CA_FILE", cache["ca_file"])
    plain = redis.Redis(
        host="127.0.0.1", port=cache["port"], username=cache["username"], password=cache["password"],
        ssl=True, ssl_ca_certs=cache["ca_file"],
    )
    plain.set(f"dd:user:{USER['id']}", json.dumps(USER))
    publisher = paho_publisher(broker)
    try:
        async with ddiscord.connect(mesh_url=broker["url"], redis_url=cache["url"]) as client:
            sub = await client.subscribe("discord/*/*/MESSAGE_CREATE")
            frame = json.dumps({"op": 0, "t": "MESSAGE_CREATE", "s": 7, "d": {"id": "1", "content": "over TLS"}}).encode()
            # One read, awaited across the publishes: a read cancelled on a timeout could take
            # the event with it. Published until it arrives: the subscription may still be on
            # its way to the broker.
            first = asyncio.ensure_future(sub.__anext__())
            for _ in range(50):
                publisher.publish("discord/0/-/MESSAGE_CREATE", envelope(frame), qos=1).wait_for_publish(5)
                done, _ = await asyncio.wait({first}, timeout=0.5)
                if done:
                    break
            else:
                first.cancel()
                raise AssertionError("nothing arrived over TLS")
            event = first.result()
            assert event.data["content"] == "over TLS"
            user = await client.cache.user(int(USER["id"]))
            assert user is not None and user.raw == USER
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        plain.close()


async def test_a_wrong_password_or_an_untrusted_ca_says_what_to_fix(
    secured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, cache = secured["mosquitto"], secured["redis"]
    monkeypatch.setenv("DDISCORD_MESH_CA_FILE", broker["ca_file"])
    wrong = broker["url"].replace(broker["password"], "not-the-password")
    with pytest.raises(ddiscord.DDiscordError) as refused:
        async with ddiscord.connect(mesh_url=wrong, redis_url=cache["url"]):
            pass
    assert "refused the credentials" in str(refused.value)
    assert "not-the-password" not in str(refused.value)
    monkeypatch.setenv("DDISCORD_MESH_CA_FILE", broker["untrusted_ca_file"])
    with pytest.raises(ddiscord.DDiscordError) as untrusted:
        async with ddiscord.connect(mesh_url=broker["url"], redis_url=cache["url"]):
            pass
    assert "TLS handshake" in str(untrusted.value)
    assert broker["password"] not in str(untrusted.value)
