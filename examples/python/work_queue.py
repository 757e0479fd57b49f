"""Work-queue example: run it twice (or more) and the replicas share the events; each event's
effect happens once even when a replica crashes mid-work.

Every replica joins the consumer group ``example-wq`` on ``discord/>``. For each job it records
the event as done with ``SET NX`` on ``example:wq:done:<shard>:<session>:<sequence>`` (so a
redelivered job, after a crash or a partition moving, has no second effect), appends a line to
``example:wq:log`` and acknowledges the job after that. Configured from the environment
(``DDISCORD_MESH_URL``, ``DDISCORD_REDIS_URL``, ``DDISCORD_SHARDS``) plus:

- ``EXAMPLE_REPLICA``: this replica's name (default: the process id)
- ``EXAMPLE_LEASE_TTL``: seconds before a crashed replica's shards move (default 10)

    python examples/python/work_queue.py
"""

from __future__ import annotations

import asyncio
import os

import redis.asyncio as aioredis

import ddiscord


async def main() -> None:
    replica = os.environ.get("EXAMPLE_REPLICA", str(os.getpid()))
    lease_ttl = float(os.environ.get("EXAMPLE_LEASE_TTL", "10"))
    store = aioredis.from_url(os.environ.get("DDISCORD_REDIS_URL", "redis://127.0.0.1:6379"))
    async with ddiscord.connect() as client:
        async with client.consume("example-wq", "discord/>", lease_ttl=lease_ttl) as queue:
            print("ready", flush=True)
            async for job in queue:
                event = job.event
                key = f"example:wq:done:{event.shard}:{event.session}:{event.sequence}"
                first = await store.set(key, replica, nx=True)
                await store.rpush("example:wq:log", f"{replica} {key} {'first' if first else 'again'}")
                if first:
                    await store.incr("example:wq:handled")
                await job.ack()
    await store.aclose()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
