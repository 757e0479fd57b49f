"""The exceptions of the ``ddiscord`` package: every one derives from :class:`DDiscordError`.

The native module raises these classes by name, so renaming one is a change on both sides.
"""

from __future__ import annotations

import builtins

__all__ = [
    "DDiscordError",
    "ConfigError",
    "PatternError",
    "InvalidIdError",
    "MeshError",
    "ConnectionLostError",
    "CacheError",
    "CorruptCacheError",
    "PayloadError",
    "ClosedError",
    "TimeoutError",
    "GroupError",
]


class DDiscordError(Exception):
    """Base class of every error the package raises."""


class ConfigError(DDiscordError, ValueError):
    """A configuration value or request is invalid (e.g. ``DDISCORD_SHARDS=0``)."""


class PatternError(DDiscordError, ValueError):
    """A subscription pattern is not valid Solace syntax or not on the expected topic tree."""


class InvalidIdError(DDiscordError, ValueError):
    """An id is not a snowflake (a non-zero unsigned 64-bit integer, as ``int`` or ``str``)."""


class MeshError(DDiscordError, ConnectionError):
    """The event mesh could not be reached or refused an operation."""


class ConnectionLostError(MeshError):
    """The mesh connection dropped while a stream was open.

    The client reconnects and resubscribes in the background; iterating again continues the
    stream, but direct (QoS 0) events published while it was down are lost.
    """


class CacheError(DDiscordError, ConnectionError):
    """Redis (the cache) could not be reached or answered with an error."""


class CorruptCacheError(CacheError):
    """A cached value is not the JSON the key schema documents."""


class PayloadError(DDiscordError, ValueError):
    """An event payload does not have the expected shape."""


class ClosedError(DDiscordError):
    """The client or stream is closed."""


class TimeoutError(DDiscordError, builtins.TimeoutError):
    """An operation did not finish in time (connecting, waiting for member chunks)."""


class GroupError(DDiscordError):
    """A consumer group (work queue) failed."""
