"""Typed reads of the Redis cache the state worker writes (key layout: ``docs/cache.md``).

Each read runs in the native core (the Rust ``CacheReader``, without the GIL) through its one
entry point (``cache_query``, which names the read) and returns a typed view
(:mod:`ddiscord.models`) with the raw ``dict`` at ``.raw``, or ``None`` when the entity is not
cached. Ids are ``int`` or decimal ``str``; anything else raises
:class:`ddiscord.errors.InvalidIdError`. Redis being unreachable raises
:class:`ddiscord.errors.CacheError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Callable, Optional, TypeVar

from . import _native
from .models import Channel, Guild, GuildState, Member, Message, Model, Presence, Role, User, VoiceState

__all__ = ["Cache"]

Id = Any
M = TypeVar("M", bound=Model)


def _one(kind: Callable[[dict[str, Any]], M], value: Any) -> Optional[M]:
    return kind(value) if value is not None else None


def _many(kind: Callable[[dict[str, Any]], M], values: Any) -> list[M]:
    return [kind(v) for v in values] if values is not None else []


class Cache:
    """Reads of the cache; every method is one Redis round trip unless it says otherwise."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.NativeClient) -> None:
        self._native = native

    async def _read(self, read: str, *ids: Id, limit: Optional[int] = None) -> Any:
        return json.loads(await self._native.cache_query(read, list(ids), limit))

    async def guild(self, guild_id: Id) -> Optional[Guild]:
        """The guild, without its collections."""
        return _one(Guild, await self._read("guild", guild_id))

    async def guild_with_collections(self, guild_id: Id) -> Optional[Guild]:
        """The guild with its ``roles``, ``channels`` (threads included) and ``emojis`` lists."""
        return _one(Guild, await self._read("guild_with_collections", guild_id))

    async def guild_state(self, guild_id: Id) -> Optional[GuildState]:
        """The guild's cache marker and counters (``shard``, ``complete``, ``members_chunked``, …)."""
        return _one(GuildState, await self._read("guild_state", guild_id))

    async def channel(self, channel_id: Id) -> Optional[Channel]:
        """A guild channel or thread by id (two round trips)."""
        return _one(Channel, await self._read("channel", channel_id))

    async def channels(self, guild_id: Id) -> list[Channel]:
        """Every channel and thread of the guild."""
        return _many(Channel, await self._read("channels", guild_id))

    async def role(self, guild_id: Id, role_id: Id) -> Optional[Role]:
        """A role of the guild."""
        return _one(Role, await self._read("role", guild_id, role_id))

    async def roles(self, guild_id: Id) -> list[Role]:
        """Every role of the guild."""
        return _many(Role, await self._read("roles", guild_id))

    async def member(self, guild_id: Id, user_id: Id) -> Optional[Member]:
        """A member of the guild, with its user."""
        return _one(Member, await self._read("member", guild_id, user_id))

    async def members(self, guild_id: Id, user_ids: Iterable[Id]) -> list[Optional[Member]]:
        """Several members in one round trip, in the order asked (``None`` where not cached)."""
        values = await self._read("members", guild_id, *user_ids)
        return [Member(v) if v is not None else None for v in values]

    async def member_ids(self, guild_id: Id) -> list[int]:
        """The user ids of every cached member of the guild."""
        return [int(u) for u in await self._read("member_ids", guild_id)]

    async def user(self, user_id: Id) -> Optional[User]:
        """A user."""
        return _one(User, await self._read("user", user_id))

    async def current_user(self) -> Optional[User]:
        """The bot's own user."""
        return _one(User, await self._read("current_user"))

    async def presence(self, guild_id: Id, user_id: Id) -> Optional[Presence]:
        """A member's presence (cached only when the worker caches presences)."""
        return _one(Presence, await self._read("presence", guild_id, user_id))

    async def voice_state(self, guild_id: Id, user_id: Id) -> Optional[VoiceState]:
        """A member's voice state."""
        return _one(VoiceState, await self._read("voice_state", guild_id, user_id))

    async def voice_states(self, guild_id: Id) -> list[VoiceState]:
        """Every voice state of the guild."""
        return _many(VoiceState, await self._read("voice_states", guild_id))

    async def recent_messages(self, channel_id: Id, limit: int = 50) -> list[Message]:
        """Up to ``limit`` cached messages of the channel, newest first (two round trips)."""
        return _many(Message, await self._read("recent_messages", channel_id, limit=limit))
