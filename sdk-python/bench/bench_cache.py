"""Cache-read latency: ddiscord's typed reads beside redis-py plus `json.loads` for the same
keys, on one private Redis filled by the state worker's projection, in the same run. Bounded
(a few seconds).

    python sdk-python/bench/bench_cache.py [--iterations N]

Sequential awaits (one read in flight), so the figures are round-trip latencies per read:
- user: `await cache.user(u)` vs `json.loads(GET dd:user:<u>)` (the same single key);
- member: `await cache.member(g, u)` (HMGET + MGET pipelined, joined) vs a redis-py pipeline of
  `HGET dd:guild:<g>:members <u>` + `GET dd:user:<u>`, both `json.loads`ed and joined;
- members: `await cache.members(g, ids)` for every cached member in one round trip vs a redis-py
  pipeline of HMGET + MGET with `json.loads` per value.
redis-py is measured both with its synchronous client and with `redis.asyncio`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import redis  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

import ddiscord  # noqa: E402
from discord import FIXTURES, envelope  # noqa: E402
from projection import project, session_v10  # noqa: E402
from servers import Mosquitto, Redis  # noqa: E402

GUILD = 900000000000000008
LARGE = 81384788765712384  # guild_create_large.json: 9,593 members
BATCH = 100


def timed_sync(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


async def timed_async(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def us(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1e6:7.1f} µs  p99 {p99(samples) * 1e6:8.1f} µs"


def ratios(ours: list[float], theirs: list[float]) -> str:
    return (
        f"ratio median {statistics.median(ours) / statistics.median(theirs):.2f}x"
        f"  p99 {p99(ours) / p99(theirs):.2f}x"
    )


async def bench(redis_url: str, mesh_url: str, port: int, n: int) -> None:
    r = redis.Redis(port=port)
    ar = aioredis.Redis(port=port)
    ids = [int(x) for x in r.hkeys(f"dd:guild:{GUILD}:members")]
    uid = ids[0]
    mkey, ukey = f"dd:guild:{GUILD}:members", f"dd:user:{uid}"

    def py_user() -> Any:
        return json.loads(r.get(ukey))  # type: ignore[arg-type]

    async def apy_user() -> Any:
        return json.loads(await ar.get(ukey))  # type: ignore[arg-type]

    def py_member() -> Any:
        m, u = r.pipeline(transaction=False).hget(mkey, str(uid)).get(ukey).execute()
        member = json.loads(m)
        member["user"] = json.loads(u)
        return member

    async def apy_member() -> Any:
        m, u = await ar.pipeline(transaction=False).hget(mkey, str(uid)).get(ukey).execute()
        member = json.loads(m)
        member["user"] = json.loads(u)
        return member

    ukeys = [f"dd:user:{i}" for i in ids]
    sids = [str(i) for i in ids]

    def joined(ms: list[Any], us_: list[Any]) -> list[Any]:
        out = []
        for m, u in zip(ms, us_):
            member = json.loads(m)
            member["user"] = json.loads(u)
            out.append(member)
        return out

    def py_members() -> Any:
        return joined(*r.pipeline(transaction=False).hmget(mkey, sids).mget(ukeys).execute())

    async def apy_members() -> Any:
        return joined(*await ar.pipeline(transaction=False).hmget(mkey, sids).mget(ukeys).execute())

    async with ddiscord.connect(mesh_url=mesh_url, redis_url=redis_url) as client:
        cache = client.cache
        assert (await cache.user(uid)) is not None
        rows = [
            ("user", lambda: cache.user(uid), py_user, apy_user),
            ("member", lambda: cache.member(GUILD, uid), py_member, apy_member),
        ]
        print(f"{n} sequential reads each (members: {n // 10}); single reads on guild {GUILD}")
        for name, dd, py, apy in rows:
            await timed_async(dd, 100)  # warm up
            timed_sync(py, 100)
            a = await timed_async(dd, n)
            b = timed_sync(py, n)
            c = await timed_async(apy, n)
            print(f"{name:8} ddiscord       {us(a)}")
            print(f"{'':8} redis-py sync  {us(b)}   {ratios(a, b)}")
            print(f"{'':8} redis.asyncio  {us(c)}   {ratios(a, c)}")
        large_key = f"dd:guild:{LARGE}:members"
        batch = [int(x) for x in r.hkeys(large_key)[:BATCH]]
        mkey = large_key
        ukeys[:] = [f"dd:user:{i}" for i in batch]
        sids[:] = [str(i) for i in batch]
        got = await cache.members(LARGE, batch)
        assert len(got) == BATCH and all(m is not None for m in got)
        assert [m.raw["user"]["id"] for m in got if m] == [u["user"]["id"] for u in py_members()]
        await timed_async(lambda: cache.members(LARGE, batch), 20)  # warm up
        a = await timed_async(lambda: cache.members(LARGE, batch), n // 10)
        b = timed_sync(py_members, n // 10)
        c = await timed_async(apy_members, n // 10)
        print(f"{'members':8} ddiscord       {us(a)}   ({BATCH} of the {LARGE} guild's members, one round trip)")
        print(f"{'':8} redis-py sync  {us(b)}   {ratios(a, b)}")
        print(f"{'':8} redis.asyncio  {us(c)}   {ratios(a, c)}")
        print("ratio = ddiscord / redis-py (below 1: ddiscord is faster)")
    await ar.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=3000)
    args = parser.parse_args()
    server = Redis()
    broker = Mosquitto()
    try:
        project(server.url, session_v10())
        large = (FIXTURES / "guild_create_large.json").read_bytes().strip()
        print(project(server.url, [envelope(large, session="large-session", seq=1)]))
        asyncio.run(bench(server.url, broker.url, server.port, args.iterations))
    finally:
        server.close()
        broker.close()


if __name__ == "__main__":
    main()
