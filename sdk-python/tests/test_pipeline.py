"""The pipeline on real servers: dispatches published on the mesh, the state worker
(`ddiscord state-worker`) projecting them into Redis and republishing them on `discord-state/…`, and
a script that reads the cache on that tree seeing each event applied."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest
import redis

import ddiscord
from discord import Publisher, topic_of
from projection import binary, session_v10
from servers import Mosquitto, Redis, free_port


@pytest.fixture
def state_worker(mosquitto: Mosquitto, redis_server: Redis) -> Iterator[subprocess.Popen[bytes]]:
    """`ddiscord state-worker` for one shard, once its `/readyz` answers 200."""
    port = free_port()
    proc = subprocess.Popen(
        [str(binary()), "state-worker", "--mesh-url", mosquitto.url, "--redis-url", redis_server.url,
         "--shards", "1", "--http-addr", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "ddiscord state-worker exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "ddiscord state-worker did not become ready"
        time.sleep(0.05)
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


async def test_subscribe_state_sees_the_cache_updated(
    state_worker: subprocess.Popen[bytes], mosquitto: Mosquitto, redis_server: Redis, publisher: Publisher
) -> None:
    store = redis.Redis(port=redis_server.port)
    async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=redis_server.url) as client:
        sub = await client.subscribe_state("discord/*/*/GUILD_*")
        session = session_v10()
        for body in session:
            publisher.publish(topic_of(body, shard=0), body)
        expected = {"GUILD_CREATE": 2, "GUILD_MEMBER_UPDATE": 1}
        seen: dict[str, int] = {}

        async def check() -> None:
            async for event in sub:
                assert event.tree == "state"
                assert event.topic.startswith("discord-state/0/")
                if event.name == "GUILD_CREATE":
                    guild = await client.cache.guild(event.guild_id)
                    assert guild is not None and guild.name == event.data["name"]
                    roles = await client.cache.roles(event.guild_id)
                    assert {r.id for r in roles} == {int(r["id"]) for r in event.data["roles"]}
                elif event.name == "GUILD_MEMBER_UPDATE":
                    uid = event.data["user"]["id"]
                    member = await client.cache.member(event.guild_id, uid)
                    # The worker updates members it has (as twilight-cache-inmemory does); the
                    # read equals what it wrote, present or not.
                    raw = store.hget(f"dd:guild:{event.guild_id}:members", uid)
                    assert (member is None) == (raw is None)
                    if member is not None:
                        assert member.roles == [int(r) for r in event.data["roles"]]
                seen[event.name] = seen.get(event.name, 0) + 1
                if all(seen.get(k, 0) >= v for k, v in expected.items()):
                    return

        await asyncio.wait_for(check(), 30)
