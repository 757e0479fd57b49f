"""Async iterators over the native streams, filled one batch at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Optional

from ._native import Event, NativeStream

__all__ = ["Subscription"]

#: Events taken from the native side per crossing.
DEFAULT_BATCH = 1024


class Subscription:
    """The events matching one pattern: ``async for event in subscription``.

    Created by :meth:`ddiscord.Client.subscribe`. Awaiting it (``sub = await
    client.subscribe(...)``) makes the subscription at once, so nothing published afterwards is
    missed; iterating without awaiting subscribes on the first iteration. Events arrive from the
    native module in batches of up to ``batch_size``, one boundary crossing per batch.

    Raises :class:`ddiscord.errors.ConnectionLostError` when the mesh connection drops; iterating
    again continues once the client has reconnected.
    """

    __slots__ = ("_open", "_native", "_batch", "_it", "pattern")

    def __init__(
        self,
        open_: Callable[[], Awaitable[NativeStream]],
        pattern: str,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self._open = open_
        self._native: Optional[NativeStream] = None
        self._batch = batch_size
        self._it: Iterator[Event] = iter(())
        #: The pattern as given.
        self.pattern = pattern

    async def _ensure(self) -> NativeStream:
        if self._native is None:
            self._native = await self._open()
        return self._native

    def __await__(self) -> Generator[Any, None, Subscription]:
        async def opened() -> Subscription:
            await self._ensure()
            return self

        return opened().__await__()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        for event in self._it:
            return event
        native = self._native if self._native is not None else await self._ensure()
        batch = await native.next_batch(self._batch)
        if not batch:
            raise StopAsyncIteration
        self._it = iter(batch)
        return next(self._it)

    async def next_batch(self) -> list[Event]:
        """The events buffered so far (waiting for at least one); ``[]`` when the stream ended."""
        rest = list(self._it)
        if rest:
            self._it = iter(())
            return rest
        return await (await self._ensure()).next_batch(self._batch)

    async def close(self) -> None:
        """Unsubscribes; iteration ends."""
        if self._native is not None:
            await self._native.close()

    async def __aenter__(self) -> Subscription:
        return await self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()
