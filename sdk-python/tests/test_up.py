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
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import ddiscord
from projection import binary
from servers import REPO, free_port

EVENTS = 40


@pytest.fixture
def up(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DDISCORD_REDIS_URL", "DDISCORD_MESH_URL", "DISCORD_TOKEN")}
    # The embedded broker's connection log too, to tell why a script's connection dropped.
    env["DDISCORD_LOG"] = "info,rumqttd=info"
    log = tmp_path / "up.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [str(binary()), "up", "--plain", "--run-secs", "180", "--shards", "2", "--guilds", "4",
             "--events-per-sec", "200", "--http-addr", f"127.0.0.1:{free_port()}"],
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
    # `up --plain` prints a summary every second; drop it so `up` never blocks on a full pipe.
    proc.stdout.close()
    yield {"DDISCORD_MESH_URL": urls["mesh"], "DDISCORD_REDIS_URL": urls["redis"], "log": str(log)}
    proc.terminate()
    proc.wait(30)


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
