"""The main job with a script attached: `ddiscord up` on the simulator (ingest, embedded mesh,
state worker, private Redis), and `examples/python/moderation.py` attached with the URLs `up`
prints, as the README tells a newcomer to do. What the script read from the cache must be what the
cache holds: every role it counted is a role of a cached guild, or one the simulator's traffic
deleted since (the test watches GUILD_ROLE_DELETE on the dispatch tree while the script runs)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import ddiscord
from projection import binary
from servers import REPO, free_port

EVENTS = 40


def run_up(tmp_path: Path, *args: str) -> Iterator[dict[str, str]]:
    """`ddiscord up` on the simulator (2 shards, 4 guilds) with `args` added; yields where
    scripts attach and the log file."""
    env = {k: v for k, v in os.environ.items() if k not in ("DDISCORD_REDIS_URL", "DDISCORD_MESH_URL", "DISCORD_TOKEN")}
    # The embedded broker's connection log too, to tell why a script's connection dropped.
    env["DDISCORD_LOG"] = "info,rumqttd=info"
    log = tmp_path / "up.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [str(binary()), "up", "--plain", "--run-secs", "180", "--shards", "2", "--guilds", "4",
             "--http-addr", f"127.0.0.1:{free_port()}", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    while "mesh" not in urls or "redis" not in urls:
        line = proc.stdout.readline()
        assert line, "ddiscord up exited before printing where scripts attach"
        words = line.split()
        if len(words) >= 2 and words[0] in ("mesh", "redis"):
            urls[words[0]] = words[1]
    # `up --plain` prints the rest of its header, then a summary every second: keep reading it,
    # so `up` never blocks on a full pipe nor fails writing to a closed one.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    yield {"DDISCORD_MESH_URL": urls["mesh"], "DDISCORD_REDIS_URL": urls["redis"], "log": str(log)}
    proc.terminate()
    proc.wait(30)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield from run_up(tmp_path, "--events-per-sec", "200")


@pytest.fixture
def up_large(tmp_path: Path) -> Iterator[dict[str, str]]:
    """With the large guild, a large_threshold of 50 (its GUILD_CREATE leaves the offline
    members out) and ingest's own member request turned off: a script's request fills it. No
    generated traffic, so the members are exactly the ones the chunks carry."""
    yield from run_up(
        tmp_path, "--large-guild", "--large-threshold", "50", "--request-members", "false", "--events-per-sec", "0"
    )


async def run_moderation(up: dict[str, str]) -> tuple[int, str, str]:
    script = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "examples" / "python" / "moderation.py"), "--max-events", str(EVENTS),
        env={**os.environ, "DDISCORD_MESH_URL": up["DDISCORD_MESH_URL"], "DDISCORD_REDIS_URL": up["DDISCORD_REDIS_URL"]},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(script.communicate(), 90)
    assert script.returncode is not None
    return script.returncode, out.decode(), err.decode()


async def test_moderation_example_attached_to_up(up: dict[str, str]) -> None:
    deleted: set[str] = set()
    async with ddiscord.connect(mesh_url=up["DDISCORD_MESH_URL"], redis_url=up["DDISCORD_REDIS_URL"]) as client:
        deletes = await client.subscribe("discord/*/*/GUILD_ROLE_DELETE")

        async def watch() -> None:
            async for event in deletes:
                deleted.add(str(event.data["role_id"]))

        watching = asyncio.create_task(watch())
        code, out, err = await run_moderation(up)
        assert code == 0, out + err + "\nddiscord up's log:\n" + Path(up["log"]).read_text()[-20_000:]
        if "connection to the event mesh lost" in err:
            # The script rides it out (it keeps reading); say so, with the broker's side of it.
            warnings.warn(f"the script's mesh connection dropped: {err}\n" + Path(up["log"]).read_text()[-5_000:])
        lines = out.strip().splitlines()
        assert lines[0] == "ready"
        counts: dict[str, int] = json.loads(lines[-1])
        assert 0 < sum(counts.values())

        store = redis.Redis.from_url(up["DDISCORD_REDIS_URL"], decode_responses=True)
        cached_roles: set[str] = set()
        for shard in range(2):
            for guild in store.hkeys(f"dd:shard:{shard}:guilds"):
                cached_roles.update(store.hkeys(f"dd:guild:{guild}:roles"))
        assert cached_roles, "the state worker cached no roles"
        # A role missing from Redis was deleted by a dispatch published before the read above;
        # give this subscription a moment to have received it too.
        await asyncio.sleep(1)
        await deletes.close()
        await watching

    counted = set(counts) - {"@everyone"}
    unknown = counted - cached_roles - deleted
    assert not unknown, f"roles the script read that are neither cached nor deleted: {unknown}"


async def test_gateway_commands_reach_the_simulator_and_come_back(up: dict[str, str]) -> None:
    """REQUEST_GUILD_MEMBERS and UPDATE_PRESENCE from a script go over the mesh to the ingest
    shard that holds the guild, the simulator answers, and the answers come back: the chunks
    by nonce to the caller, the bot's PRESENCE_UPDATE to every subscriber."""
    r = redis.Redis.from_url(up["DDISCORD_REDIS_URL"], decode_responses=True)
    async with ddiscord.connect(mesh_url=up["DDISCORD_MESH_URL"], redis_url=up["DDISCORD_REDIS_URL"]) as client:
        guild = None
        for _ in range(300):
            complete = [k.split(":")[2] for k in r.scan_iter("dd:guild:*:state") if r.hget(k, "complete") == "1"]
            if complete:
                guild = int(complete[0])
                break
            await asyncio.sleep(0.1)
        assert guild is not None, "no guild completed within 30 s"
        me = await client.cache.current_user()
        assert me is not None

        got: set[int] = set()
        async with client.request_guild_members(guild, query="", limit=0, nonce="py-e2e") as chunks:
            async for chunk in chunks:
                assert chunk.data["nonce"] == "py-e2e"
                got.update(int(m["user"]["id"]) for m in chunk.data["members"])
        cached = set(await client.cache.member_ids(guild))
        # The traffic keeps changing members meanwhile: the answer and the cache agree on
        # everyone the traffic did not touch.
        assert len(got & cached) >= 0.9 * len(cached), (len(got), len(cached))
        assert me.id in got

        async with client.subscribe("discord/*/*/PRESENCE_UPDATE") as presences:
            await client.update_presence(status="dnd", activities=[{"name": "e2e", "type": 0}])

            async def mine() -> dict[str, object]:
                async for event in presences:
                    if int(event.data["user"]["id"]) == me.id:
                        return event.data
                raise AssertionError("the subscription ended")

            data = await asyncio.wait_for(mine(), 30)
            assert data["status"] == "dnd"


async def test_request_guild_members_fills_a_large_guild(up_large: dict[str, str]) -> None:
    """A script's REQUEST_GUILD_MEMBERS for every member of the large guild: exactly its chunks
    come back (by nonce, chunk_index 0..chunk_count-1), the state worker caches every member
    and marks the guild members_chunked; a second request within 30 s is refused by the
    gateway's RATE_LIMITED, raised as RateLimitedError."""
    async with ddiscord.connect(mesh_url=up_large["DDISCORD_MESH_URL"], redis_url=up_large["DDISCORD_REDIS_URL"]) as client:
        r = redis.Redis.from_url(up_large["DDISCORD_REDIS_URL"], decode_responses=True)
        large = None
        for _ in range(600):
            counts = {
                int(k.split(":")[2]): int(r.hget(k, "member_count") or 0)
                for k in r.scan_iter("dd:guild:*:state")
                if r.hget(k, "complete") == "1"
            }
            if counts and max(counts.values()) > 1000:
                large = max(counts, key=lambda g: counts[g])
                break
            await asyncio.sleep(0.1)
        assert large is not None, "the large guild was not cached within 60 s"
        state = await client.cache.guild_state(large)
        assert state is not None and state.member_count is not None
        assert not state.members_chunked
        assert len(await client.cache.member_ids(large)) < state.member_count

        chunks = []
        async with client.request_guild_members(large, query="", limit=0, nonce="py-large") as stream:
            async for chunk in stream:
                chunks.append(chunk.data)
        count = chunks[0]["chunk_count"]
        assert sorted(c["chunk_index"] for c in chunks) == list(range(count))
        for c in chunks:
            assert (c["nonce"], c["chunk_count"], int(c["guild_id"])) == ("py-large", count, large)
        got = {int(m["user"]["id"]) for c in chunks for m in c["members"]}
        assert len(got) == state.member_count
        assert count == (len(got) + 999) // 1000

        for _ in range(300):
            state = await client.cache.guild_state(large)
            if state is not None and state.members_chunked:
                break
            await asyncio.sleep(0.1)
        assert state is not None and state.members_chunked, "members_chunked not set within 30 s"
        assert set(await client.cache.member_ids(large)) == got

        with pytest.raises(ddiscord.RateLimitedError, match="retry after"):
            async with client.request_guild_members(large, query="", limit=0) as stream:
                async for _ in stream:
                    raise AssertionError("a refused request got a chunk")
