"""The exceptions of the ``ddiscord`` package: every one derives from :class:`DDiscordError`.

One class per stable error kind of the Rust core (``ddiscord::ERROR_KINDS``, listed by
``ddiscord._native.error_kinds()``); ``err.code`` is the kind's code (``"INVALID_PATTERN"``). The
native module raises these classes by name, and a test checks them against the core's list
(names, codes and bases), so a kind cannot be added or renamed on one side only.
"""

from __future__ import annotations

import builtins

__all__ = [
    "DDiscordError",
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
    "DiscordError",
    "InternalError",
]


class DDiscordError(Exception):
    """Base class of every error the package raises."""

    #: The stable code of the error's kind (``"INVALID_PATTERN"``, ...).
    code: str = "INTERNAL"


class ConfigError(DDiscordError, ValueError):
    """A configuration value or request is invalid (e.g. ``DDISCORD_SHARDS=0``)."""

    code = "CONFIG"


class PatternError(DDiscordError, ValueError):
    """A subscription pattern is not valid Solace syntax or not on the expected topic tree."""

    code = "INVALID_PATTERN"


class InvalidIdError(DDiscordError, ValueError):
    """An id is not a snowflake (a non-zero unsigned 64-bit integer, as ``int`` or ``str``)."""

    code = "INVALID_ID"


class InvalidArgumentError(DDiscordError, TypeError):
    """An argument has the wrong type or shape."""

    code = "INVALID_ARGUMENT"


class MeshError(DDiscordError, ConnectionError):
    """The event mesh could not be reached or refused an operation."""

    code = "MESH"


class ConnectionLostError(MeshError):
    """The mesh connection dropped while a stream was open.

    The client reconnects and resubscribes in the background; iterating again continues the
    stream, but direct (QoS 0) events published while it was down are lost.
    """

    code = "CONNECTION_LOST"


class CacheError(DDiscordError, ConnectionError):
    """Redis (the cache) could not be reached or answered with an error."""

    code = "CACHE"


class CorruptCacheError(CacheError):
    """A cached value is not the JSON the key schema documents."""

    code = "CORRUPT_CACHE"


class PayloadError(DDiscordError, ValueError):
    """An event payload does not have the expected shape."""

    code = "PAYLOAD"


class ClosedError(DDiscordError):
    """The client or stream is closed."""

    code = "CLOSED"


class TimeoutError(DDiscordError, builtins.TimeoutError):
    """An operation did not finish in time (connecting, waiting for member chunks)."""

    code = "TIMEOUT"


class RateLimitedError(DDiscordError):
    """Discord rate-limited a request: a gateway command (every member of a guild: once per 30 s),
    or a REST request whose turn in the shared rate limits would come after its deadline (or the
    bot reached the invalid-request limit).

    The message says when to retry: Discord's RATE_LIMITED ``retry_after``
    (https://discord.com/developers/docs/events/gateway-events#rate-limited) or the REST bucket's
    reset (https://discord.com/developers/docs/topics/rate-limits).
    """

    code = "RATE_LIMITED"


class GroupError(DDiscordError):
    """A consumer group (work queue) failed."""

    code = "GROUP"


class DiscordError(DDiscordError):
    """Discord's HTTP API answered with an error (status and Discord's JSON code in the message) or could not be reached."""

    code = "DISCORD"


class InternalError(DDiscordError):
    """A bug in DDiscord; please report it with the message."""

    code = "INTERNAL"
