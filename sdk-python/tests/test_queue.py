"""Work-queue jobs through the Python API: delivery count, nack with retry, dead letter."""

from __future__ import annotations

import asyncio

import pytest

import ddiscord
from discord import Publisher, Subscriber, envelope
from servers import Mosquitto, Redis

FRAME = b'{"op":0,"t":"TYPING_START","s":7,"d":{"channel_id":"1","user_id":"2","timestamp":1}}'


async def test_nack_retries_then_dead_letters(mosquitto: Mosquitto, redis_server: Redis, publisher: Publisher) -> None:
    dead = Subscriber(mosquitto.port, "discord-dead/py-retry/#")
    try:
        async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=redis_server.url) as client:
            async with client.consume("py-retry", "discord/>", max_deliveries=2, retry_delay=0.05, lease_ttl=2) as queue:
                body = envelope(FRAME, session="s")
                publisher.publish("discord/0/-/TYPING_START", body)
                job = await asyncio.wait_for(queue.__anext__(), 10)
                assert (job.deliveries, job.partition, job.event.name) == (1, 0, "TYPING_START")
                await job.nack()
                with pytest.raises(ddiscord.GroupError, match="twice"):
                    await job.ack()
                again = await asyncio.wait_for(queue.__anext__(), 10)
                assert again.deliveries == 2 and again.event.sequence == 7
                await again.nack()
                assert await asyncio.get_running_loop().run_in_executor(None, dead.messages.get, True, 10) == body
                assert queue.partitions() == [0]
    finally:
        dead.close()


async def test_queue_patterns_are_checked(mosquitto: Mosquitto, redis_server: Redis) -> None:
    async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=redis_server.url) as client:
        with pytest.raises(ddiscord.PatternError):
            client.consume("g", "discord//x")
        with pytest.raises(ddiscord.GroupError, match="group name"):
            await client.consume("bad name!", "discord/>")
