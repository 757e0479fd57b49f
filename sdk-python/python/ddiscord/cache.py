"""Typed reads of the Redis cache (key layout: docs/cache.md)."""

from __future__ import annotations

from typing import Any

__all__ = ["Cache"]


class Cache:
    """Reads of the cache the state worker writes; every read is one Redis round trip."""

    __slots__ = ("_native",)

    def __init__(self, native: Any) -> None:
        self._native = native
