"""Work queues: replicas of a consumer group share the events, at-least-once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Optional

from ._native import NativeJob, NativeQueue

__all__ = ["WorkQueue", "Job"]

#: One job: ``job.event`` (a :class:`ddiscord.Event`), ``job.deliveries``,
#: ``job.redelivered``, ``job.partition``, ``await job.ack()``, ``await job.nack()``.
Job = NativeJob


class WorkQueue:
    """One replica of a work queue: ``async for job in client.consume("group", pattern)``.

    Replicas that consume the same group share its partitions (the shards); each job goes to
    one replica at a time. Acknowledge a job after the work is done (``await job.ack()``); a
    job that is not acknowledged (a crash, a lost partition) is delivered again, to this or
    another replica, with ``job.redelivered`` set, so make the work idempotent.
    ``await job.nack()`` asks for another delivery after the retry delay; after
    ``max_deliveries`` the job goes to the dead-letter topic ``<root>-dead/<group>/<shard>``.

    Awaiting the queue (``queue = await client.consume(...)``) joins the group at once;
    iterating without awaiting joins on the first iteration. ``await queue.close()`` (or
    leaving ``async with``) hands the partitions to the other replicas at once.
    """

    __slots__ = ("_open", "_native", "_it", "group", "pattern")

    def __init__(self, open_: Callable[[], Awaitable[NativeQueue]], group: str, pattern: str) -> None:
        self._open = open_
        self._native: Optional[NativeQueue] = None
        self._it: Iterator[NativeJob] = iter(())
        #: The group name.
        self.group = group
        #: The pattern as given.
        self.pattern = pattern

    async def _ensure(self) -> NativeQueue:
        if self._native is None:
            self._native = await self._open()
        return self._native

    def __await__(self) -> Generator[Any, None, WorkQueue]:
        async def joined() -> WorkQueue:
            await self._ensure()
            return self

        return joined().__await__()

    def __aiter__(self) -> WorkQueue:
        return self

    async def __anext__(self) -> NativeJob:
        for job in self._it:
            return job
        native = self._native if self._native is not None else await self._ensure()
        batch = await native.next_batch(256)
        if not batch:
            raise StopAsyncIteration
        self._it = iter(batch)
        return next(self._it)

    def partitions(self) -> list[int]:
        """The partitions (shards) this replica holds now."""
        return self._native.partitions() if self._native is not None else []

    async def close(self) -> None:
        """Leaves the group; unacknowledged jobs go to the other replicas."""
        if self._native is not None:
            await self._native.close()

    async def __aenter__(self) -> WorkQueue:
        return await self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()
