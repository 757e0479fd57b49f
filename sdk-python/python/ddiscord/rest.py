"""Discord's HTTP API: ``client.rest``, with the rate limits shared by every process of the bot.

Each call waits for its turn in the limits the bot's processes share through Redis (the buckets
Discord announces in its ``X-RateLimit-*`` headers, the global 50 requests per second, 429s),
then returns Discord's JSON as a ``dict`` (``None`` for ``204 No Content``). It raises
:class:`ddiscord.errors.DiscordError` when Discord answers with an error (``"404 (code 10008)"``
in the message for an unknown message) and :class:`ddiscord.errors.RateLimitedError` when the
turn would come after the deadline (``DDISCORD_REST_DEADLINE_MS``, default 30 s). The bot token
is ``DISCORD_TOKEN``; ``DDISCORD_REST_URL`` points at the simulator. See ``docs/rest.md``.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from . import _native

__all__ = ["Rest"]

Snowflake = Union[int, str]


class Rest:
    """The REST calls of a :class:`ddiscord.Client`."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.NativeClient) -> None:
        self._native = native

    async def _call(
        self,
        call: str,
        ids: list[Snowflake],
        body: Optional[dict[str, Any]] = None,
        token: Optional[str] = None,
    ) -> Any:
        text = await self._native.rest_call(
            call, list(ids), None if body is None else json.dumps(body), token
        )
        return json.loads(text) if text else None

    async def create_message(self, channel_id: Snowflake, body: dict[str, Any]) -> dict[str, Any]:
        """Create Message in ``channel_id`` with ``body`` (``{"content": "hi"}``, embeds, ...)."""
        result: dict[str, Any] = await self._call("create_message", [channel_id], body)
        return result

    async def get_message(self, channel_id: Snowflake, message_id: Snowflake) -> dict[str, Any]:
        """Get Channel Message."""
        result: dict[str, Any] = await self._call("get_message", [channel_id, message_id])
        return result

    async def edit_message(
        self, channel_id: Snowflake, message_id: Snowflake, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Edit Message with ``body``."""
        result: dict[str, Any] = await self._call("edit_message", [channel_id, message_id], body)
        return result

    async def delete_message(self, channel_id: Snowflake, message_id: Snowflake) -> None:
        """Delete Message."""
        await self._call("delete_message", [channel_id, message_id])

    async def delete_messages(self, channel_id: Snowflake, message_ids: list[Snowflake]) -> None:
        """Bulk Delete Messages: 2 to 100 messages."""
        await self._call("delete_messages", [channel_id], {"messages": [str(m) for m in message_ids]})

    async def add_member_role(self, guild_id: Snowflake, user_id: Snowflake, role_id: Snowflake) -> None:
        """Add Guild Member Role."""
        await self._call("add_member_role", [guild_id, user_id, role_id])

    async def remove_member_role(self, guild_id: Snowflake, user_id: Snowflake, role_id: Snowflake) -> None:
        """Remove Guild Member Role."""
        await self._call("remove_member_role", [guild_id, user_id, role_id])

    async def modify_member(
        self, guild_id: Snowflake, user_id: Snowflake, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Modify Guild Member: ``nick``, ``roles``, ``mute``, ``deaf``, and
        ``communication_disabled_until`` (an ISO 8601 time) for a timeout."""
        result: dict[str, Any] = await self._call("modify_member", [guild_id, user_id], body)
        return result

    async def kick_member(self, guild_id: Snowflake, user_id: Snowflake) -> None:
        """Remove Guild Member (a kick)."""
        await self._call("kick_member", [guild_id, user_id])

    async def ban_member(
        self, guild_id: Snowflake, user_id: Snowflake, body: Optional[dict[str, Any]] = None
    ) -> None:
        """Create Guild Ban (``{"delete_message_seconds": ...}``)."""
        await self._call("ban_member", [guild_id, user_id], body or {})

    async def create_interaction_response(
        self, interaction_id: Snowflake, token: str, body: dict[str, Any]
    ) -> None:
        """Create Interaction Response (``{"type": 4, "data": {...}}``)."""
        await self._call("create_interaction_response", [interaction_id], body, token)

    async def create_followup(
        self, application_id: Snowflake, token: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create Followup Message of an interaction."""
        result: dict[str, Any] = await self._call("create_followup", [application_id], body, token)
        return result

    async def get_guild(self, guild_id: Snowflake) -> dict[str, Any]:
        """Get Guild."""
        result: dict[str, Any] = await self._call("get_guild", [guild_id])
        return result

    async def get_guild_channels(self, guild_id: Snowflake) -> list[dict[str, Any]]:
        """Get Guild Channels."""
        result: list[dict[str, Any]] = await self._call("get_guild_channels", [guild_id])
        return result

    async def get_member(self, guild_id: Snowflake, user_id: Snowflake) -> dict[str, Any]:
        """Get Guild Member."""
        result: dict[str, Any] = await self._call("get_member", [guild_id, user_id])
        return result

    async def get_channel(self, channel_id: Snowflake) -> dict[str, Any]:
        """Get Channel."""
        result: dict[str, Any] = await self._call("get_channel", [channel_id])
        return result
