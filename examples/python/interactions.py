"""Interactions example: answer every slash command that Discord delivers over HTTP.

``ddiscord interactions`` publishes each interaction Discord POSTs to the bot's endpoint as an
INTERACTION_CREATE on the dispatch tree, the same as the gateway's; this script answers each
slash command (interaction type 2) with a message, through the reply topic the endpoint waits
on. A reply that arrives within the endpoint's deadline (2.5 s by default) is what Discord
receives; otherwise the endpoint has already deferred the interaction. Configured from the
environment (``DDISCORD_MESH_URL``, ...).

    python examples/python/interactions.py [--max-events N]

Prints ``ready`` once subscribed and one line per answered command.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Optional

import ddiscord

# Interaction type 2, APPLICATION_COMMAND; response type 4, CHANNEL_MESSAGE_WITH_SOURCE
# (https://discord.com/developers/docs/interactions/receiving-and-responding).
APPLICATION_COMMAND = 2
CHANNEL_MESSAGE_WITH_SOURCE = 4


async def answer_commands(client: ddiscord.Client, max_events: Optional[int]) -> None:
    answered = 0
    async with client.subscribe("discord/*/*/INTERACTION_CREATE") as interactions:
        print("ready", flush=True)
        async for event in interactions:
            if event.data.get("type") != APPLICATION_COMMAND:
                continue
            name = event.data["data"]["name"]
            await client.reply_interaction(
                event.data["id"],
                {"type": CHANNEL_MESSAGE_WITH_SOURCE, "data": {"content": f"pong from /{name}"}},
            )
            answered += 1
            print(f"answered /{name} ({event.data['id']})", flush=True)
            if max_events is not None and answered >= max_events:
                return


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--max-events", type=int, default=None, help="stop after this many commands")
    args = parser.parse_args()
    async with ddiscord.connect() as client:
        await answer_commands(client, args.max_events)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
