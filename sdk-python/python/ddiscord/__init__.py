"""DDiscord for Python: Discord events from an event mesh, a shared Redis cache, gateway commands.

.. code-block:: python

    async with ddiscord.connect() as client:
        async for event in client.subscribe("discord/*/*/MESSAGE_CREATE"):
            print(event.name, event.data["content"])
"""

from __future__ import annotations

from . import errors, models
from ._native import Event, __version__, shard_for_guild
from ._stream import Subscription
from .cache import Cache
from .client import Client, Connect, Snowflake, connect
from .queue import Job, WorkQueue
from .rest import Rest
from .models import Channel, Guild, GuildState, Member, Message, Presence, Role, User, VoiceState
from .errors import (
    CacheError,
    ClosedError,
    ConfigError,
    ConnectionLostError,
    CorruptCacheError,
    DDiscordError,
    DiscordError,
    GroupError,
    InternalError,
    InvalidArgumentError,
    InvalidIdError,
    MeshError,
    PatternError,
    PayloadError,
    RateLimitedError,
    TimeoutError,
)

__all__ = [
    "__version__",
    "connect",
    "Client",
    "Connect",
    "Cache",
    "Rest",
    "Event",
    "Subscription",
    "WorkQueue",
    "Job",
    "Snowflake",
    "shard_for_guild",
    "errors",
    "models",
    "Guild",
    "GuildState",
    "Channel",
    "Role",
    "User",
    "Member",
    "Presence",
    "VoiceState",
    "Message",
    "DDiscordError",
    "DiscordError",
    "ConfigError",
    "PatternError",
    "InvalidIdError",
    "InvalidArgumentError",
    "MeshError",
    "ConnectionLostError",
    "CacheError",
    "CorruptCacheError",
    "PayloadError",
    "ClosedError",
    "TimeoutError",
    "RateLimitedError",
    "GroupError",
    "InternalError",
]
