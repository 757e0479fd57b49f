"""REST example: post a message, delete it, and give a member a role through ``client.rest``.

Every call waits for its turn in the rate limits the bot's processes share through Redis.
Configured from the environment: ``DISCORD_TOKEN`` (the bot token), ``DDISCORD_REST_URL`` (the
simulator's HTTP URL; unset for Discord), ``DDISCORD_MESH_URL``, ``DDISCORD_REDIS_URL``.

    python examples/python/rest.py CHANNEL_ID GUILD_ID USER_ID ROLE_ID

Prints the deleted message's id and the member's roles as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

import ddiscord


async def main(channel_id: str, guild_id: str, user_id: str, role_id: str) -> None:
    async with ddiscord.connect() as client:
        message = await client.rest.create_message(channel_id, {"content": "this goes away"})
        await client.rest.delete_message(channel_id, message["id"])
        await client.rest.add_member_role(guild_id, user_id, role_id)
        member = await client.rest.get_member(guild_id, user_id)
        print(json.dumps({"deleted": message["id"], "roles": member["roles"]}))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
