"""Moderation example: on every MESSAGE_CREATE, read the author's roles from the cache and
count messages per role.

It subscribes on the state tree (``discord-state/…``), so each message arrives after the state
worker applied it and the cache already has the author's member. Configured from the
environment (``DDISCORD_MESH_URL``, ``DDISCORD_REDIS_URL``, ...).

    python examples/python/moderation.py [--max-events N]

Prints ``ready`` once subscribed, a running count every 100 messages, and the final counts as
JSON (``{"<role id or @everyone>": messages}``) when it stops (after N events, or Ctrl-C). A lost
mesh connection is reported on stderr and reading goes on: the client reconnects and
resubscribes by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from typing import Optional

import ddiscord


async def count_messages_per_role(client: ddiscord.Client, max_events: Optional[int]) -> Counter[str]:
    counts: Counter[str] = Counter()
    seen = 0
    async with client.subscribe_state("discord/*/*/MESSAGE_CREATE") as messages:
        print("ready", flush=True)
        while True:
            try:
                async for event in messages:
                    seen += 1
                    author = event.data.get("author", {})
                    if event.guild_id is not None and not author.get("bot"):
                        member = await client.cache.member(event.guild_id, author["id"])
                        roles = [str(r) for r in member.roles] if member is not None else []
                        for role in roles or ["@everyone"]:
                            counts[role] += 1
                    if seen % 100 == 0:
                        print(f"{seen} messages: {dict(counts.most_common(5))}", flush=True)
                    if max_events is not None and seen >= max_events:
                        return counts
                return counts  # the client was closed
            except ddiscord.ConnectionLostError as lost:
                # The client reconnects and resubscribes by itself; keep reading.
                print(lost, file=sys.stderr, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--max-events", type=int, default=None, help="stop after this many messages")
    args = parser.parse_args()
    async with ddiscord.connect() as client:
        counts = await count_messages_per_role(client, args.max_events)
    print(json.dumps(counts, sort_keys=True), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
