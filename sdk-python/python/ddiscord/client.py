"""The client: ``async with ddiscord.connect() as client``."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable
from types import TracebackType
from typing import Any, Optional, Union

from . import _native
from ._stream import DEFAULT_BATCH, Subscription
from .cache import Cache
from .queue import WorkQueue
from .rest import Rest

__all__ = ["Client", "Connect", "connect", "Snowflake"]

#: A Discord id: an ``int`` or its decimal ``str``.
Snowflake = Union[int, str]


class Client:
    """A connection to a DDiscord deployment: the event mesh and the Redis cache.

    Get one with :func:`connect`. Every method is a coroutine (or returns an async iterator) and
    runs in the native core without holding the GIL.
    """

    __slots__ = ("_native", "_cache", "_rest")

    def __init__(self, native: _native.NativeClient) -> None:
        self._native = native
        self._cache = Cache(native)
        self._rest = Rest(native)

    @property
    def shards(self) -> int:
        """The shard count commands are routed with (``DDISCORD_SHARDS``)."""
        return self._native.shards

    @property
    def topic_root(self) -> str:
        """The topic root (``DDISCORD_TOPIC_ROOT``, default ``discord``)."""
        return self._native.topic_root

    @property
    def cache(self) -> Cache:
        """Typed reads of the Redis cache the state worker maintains."""
        return self._cache

    @property
    def rest(self) -> Rest:
        """Discord's HTTP API with the rate limits shared by every process of the bot
        (``DISCORD_TOKEN``, ``DDISCORD_REST_URL``; see :mod:`ddiscord.rest`)."""
        return self._rest

    def subscribe(self, pattern: str, *, batch_size: int = DEFAULT_BATCH) -> Subscription:
        """Every event on the dispatch tree matching ``pattern`` (Solace syntax).

        ``*`` is one level or a level prefix (``MESSAGE_*``), ``>`` the remaining levels:
        ``discord/*/*/MESSAGE_CREATE``, ``discord/0/>``, ``discord/*/81384788765712384/GUILD_*``.
        Every subscriber gets every matching event.

        Raises :class:`ddiscord.errors.PatternError` at once for an invalid pattern.
        """
        self._native.check_pattern(pattern, False)
        return Subscription(lambda: self._native.subscribe(pattern), pattern, batch_size)

    def subscribe_state(self, pattern: str, *, batch_size: int = DEFAULT_BATCH) -> Subscription:
        """As :meth:`subscribe`, on ``discord-state/…``: each event arrives after the state
        worker applied it, so cache reads see its effect. ``discord/…`` patterns are moved to the
        state tree."""
        self._native.check_pattern(pattern, True)
        return Subscription(lambda: self._native.subscribe_state(pattern), pattern, batch_size)

    def consume(
        self,
        group: str,
        pattern: str,
        *,
        max_deliveries: int = 5,
        retry_delay: float = 1.0,
        lease_ttl: float = 10.0,
    ) -> WorkQueue:
        """Joins work queue ``group`` on the events matching ``pattern`` (its shard level must
        be ``*`` or ``>``): replicas of the group share the events, at-least-once, each job
        acknowledged after the work (see :class:`ddiscord.queue.WorkQueue`). ``lease_ttl`` is how
        long (seconds) a crashed replica's shards wait before another replica takes them over.

        Raises :class:`ddiscord.errors.PatternError` at once for an invalid pattern.
        """
        self._native.check_pattern(pattern, False)

        def open_() -> Any:
            return self._native.consume(
                group, pattern, max_deliveries=max_deliveries, retry_delay=retry_delay, lease_ttl=lease_ttl
            )

        return WorkQueue(open_, group, pattern)

    def shard_for(self, guild_id: Snowflake) -> int:
        """The shard that owns ``guild_id``: ``(guild_id >> 22) % shards``."""
        return self._native.shard_for(guild_id)

    async def send_command(self, shard: int, command: str, body: dict[str, Any]) -> None:
        """Publishes gateway command ``command`` (``PRESENCE_UPDATE``, ``VOICE_STATE_UPDATE``,
        ``REQUEST_GUILD_MEMBERS``, ``REQUEST_SOUNDBOARD_SOUNDS``) with ``body`` as ``d``."""
        await self._native.send_command(shard, command, json.dumps(body))

    async def update_voice_state(
        self,
        guild_id: Snowflake,
        channel_id: Optional[Snowflake],
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
    ) -> None:
        """Joins, moves or (with ``channel_id=None``) leaves a voice channel."""
        await self._native.update_voice_state(guild_id, channel_id, self_mute, self_deaf)

    async def update_presence(
        self,
        *,
        status: str = "online",
        activities: Iterable[dict[str, Any]] = (),
        afk: bool = False,
        since: Optional[int] = None,
    ) -> None:
        """Sets the bot's presence on every shard."""
        body = {"status": status, "activities": list(activities), "afk": afk, "since": since}
        await self._native.update_presence(json.dumps(body))

    async def reply_interaction(self, interaction_id: Snowflake, response: dict[str, Any]) -> None:
        """Answers an interaction that Discord delivered over HTTP (``ddiscord interactions``).

        ``interaction_id`` is ``event.data["id"]`` of the INTERACTION_CREATE; ``response`` is an
        interaction response object, e.g. ``{"type": 4, "data": {"content": "pong"}}``
        (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object).
        It is published on ``<root>-interaction-reply/<interaction_id>``; the endpoint answers
        Discord with it when it arrives before the endpoint's deadline (2.5 s by default), else
        the interaction was already deferred. Resolves once the broker has the reply.

        Raises :class:`ddiscord.errors.InvalidIdError` for an invalid id and
        :class:`ddiscord.errors.InvalidArgumentError` for a response without a numeric ``type``.
        """
        await self._native.reply_interaction(interaction_id, json.dumps(response))

    def request_guild_members(
        self,
        guild_id: Snowflake,
        *,
        query: Optional[str] = None,
        limit: int = 0,
        presences: bool = False,
        user_ids: Optional[Iterable[Snowflake]] = None,
        nonce: Optional[str] = None,
    ) -> Subscription:
        """Sends REQUEST_GUILD_MEMBERS to the shard that owns the guild and iterates over the
        GUILD_MEMBERS_CHUNK events that answer it (matched by nonce); ends after the last chunk.

        Without ``query`` and ``user_ids`` every member is requested. Raises
        :class:`ddiscord.errors.RateLimitedError` when Discord refuses the request with
        RATE_LIMITED (every member of a guild may be requested once per guild per 30 s), and
        :class:`ddiscord.errors.TimeoutError` when a chunk does not come in time.
        """
        ids = list(user_ids) if user_ids is not None else None

        def open_() -> Any:
            return self._native.request_guild_members(
                guild_id, query=query, limit=limit, presences=presences, user_ids=ids, nonce=nonce
            )

        return Subscription(open_, f"GUILD_MEMBERS_CHUNK of {guild_id}")

    async def close(self) -> None:
        """Disconnects; open subscriptions end."""
        await self._native.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()


class Connect:
    """What :func:`connect` returns: await it, or use it as ``async with``."""

    __slots__ = ("_kwargs", "_client")

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._client: Optional[Client] = None

    async def _open(self) -> Client:
        return Client(await _native.connect(**self._kwargs))

    def __await__(self) -> Generator[Any, None, Client]:
        return self._open().__await__()

    async def __aenter__(self) -> Client:
        self._client = await self._open()
        return self._client

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self._client is not None:
            await self._client.close()


def connect(
    *,
    mesh_url: Optional[str] = None,
    redis_url: Optional[str] = None,
    key_prefix: Optional[str] = None,
    topic_root: Optional[str] = None,
    shards: Optional[int] = None,
    connect_timeout: Optional[float] = None,
) -> Connect:
    """Connects to the event mesh (and, on first cache read, Redis).

    Arguments left ``None`` come from ``DDISCORD_MESH_URL``, ``DDISCORD_REDIS_URL``,
    ``DDISCORD_KEY_PREFIX`` (default ``dd:``), ``DDISCORD_TOPIC_ROOT`` (default ``discord``) and
    ``DDISCORD_SHARDS`` (default 1). Raises :class:`ddiscord.errors.TimeoutError` when the broker
    does not accept the connection within ``connect_timeout`` seconds
    (``DDISCORD_CONNECT_TIMEOUT_MS``, default 10 s).
    """
    return Connect(
        mesh_url=mesh_url,
        redis_url=redis_url,
        key_prefix=key_prefix,
        topic_root=topic_root,
        shards=shards,
        connect_timeout=connect_timeout,
    )
