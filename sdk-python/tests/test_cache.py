"""Cache reads through ddiscord equal what the state worker's projection wrote to Redis."""

from __future__ import annotations

import json

import pytest
import redis

import ddiscord
from projection import project, session_v10
from servers import Mosquitto, Redis, free_port

GUILD = 900000000000000008


@pytest.fixture
def projected(redis_server: Redis) -> Redis:
    outcomes = project(redis_server.url, session_v10())
    assert "applied" in outcomes, outcomes
    return redis_server


async def test_reads_equal_what_the_worker_wrote(projected: Redis, mosquitto: Mosquitto) -> None:
    r = redis.Redis(port=projected.port, decode_responses=True)
    async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=projected.url) as client:
        guild = await client.cache.guild(GUILD)
        assert guild is not None
        stored = json.loads(r.get(f"dd:guild:{GUILD}"))
        assert guild.id == GUILD and guild.name == stored["name"]
        assert guild.raw == stored, "the guild is the stored JSON as stored"
        full = await client.cache.guild_with_collections(GUILD)
        assert full is not None
        assert {k: v for k, v in full.raw.items() if k not in ("roles", "channels", "emojis")} == stored
        for name, key in (("roles", "roles"), ("channels", "channels"), ("emojis", "emojis")):
            stored_values = sorted(json.dumps(json.loads(v), sort_keys=True) for v in r.hvals(f"dd:guild:{GUILD}:{key}"))
            assert sorted(json.dumps(v, sort_keys=True) for v in full.raw[name]) == stored_values, name

        roles = await client.cache.roles(GUILD)
        stored_roles = {int(k): json.loads(v) for k, v in r.hgetall(f"dd:guild:{GUILD}:roles").items()}
        assert {x.id: x.name for x in roles} == {k: v["name"] for k, v in stored_roles.items()}
        role_id = next(iter(stored_roles))
        role = await client.cache.role(GUILD, role_id)
        assert role is not None and role.permissions == int(stored_roles[role_id]["permissions"])

        channels = await client.cache.channels(GUILD)
        stored_channels = r.hkeys(f"dd:guild:{GUILD}:channels")
        assert sorted(c.id for c in channels) == sorted(int(c) for c in stored_channels)
        one = await client.cache.channel(stored_channels[0])
        assert one is not None and one.guild_id == GUILD

        member_ids = [int(u) for u in r.hkeys(f"dd:guild:{GUILD}:members")]
        assert member_ids
        assert sorted(await client.cache.member_ids(GUILD)) == sorted(member_ids)
        state = await client.cache.guild_state(GUILD)
        assert state is not None and state.complete and state.generation >= 0
        assert await client.cache.guild_state(1) is None
        members = await client.cache.members(GUILD, member_ids + [1])
        assert members[-1] is None
        for uid, m in zip(member_ids, members):
            assert m is not None
            raw = json.loads(r.hget(f"dd:guild:{GUILD}:members", str(uid)))
            user = json.loads(r.get(f"dd:user:{uid}"))
            assert m.id == uid
            assert m.roles == [int(x) for x in raw.get("roles", [])]
            assert m.nick == raw.get("nick")
            assert m.user.username == user["username"]
            assert m.raw == {**raw, "user": user}, "a member is the stored member with its stored user"
        single = await client.cache.member(str(GUILD), str(member_ids[0]))
        assert single == members[0]
        user = await client.cache.user(member_ids[0])
        assert user is not None and user.id == member_ids[0]

        me = await client.cache.current_user()
        assert me is not None and me.raw["id"] == json.loads(r.get("dd:user:@me"))["id"]

        voice = await client.cache.voice_states(GUILD)
        assert sorted(v.user_id for v in voice) == sorted(int(u) for u in r.hkeys(f"dd:guild:{GUILD}:voice_states"))

        assert await client.cache.guild(1) is None
        assert await client.cache.guild_with_collections(1) is None
        # A field Discord adds before any library knows it reaches the reader unchanged.
        stored_user = json.loads(r.get(f"dd:user:{member_ids[0]}"))
        r.set(f"dd:user:{member_ids[0]}", json.dumps({**stored_user, "a_future_field": {"x": [1, 2]}}))
        changed = await client.cache.user(member_ids[0])
        assert changed is not None and changed.raw["a_future_field"] == {"x": [1, 2]}
        r.set(f"dd:user:{member_ids[0]}", json.dumps(stored_user))
        assert await client.cache.member(GUILD, 1) is None
        assert await client.cache.roles(1) == []


async def test_bad_ids_and_unreachable_redis_raise(mosquitto: Mosquitto) -> None:
    dead = f"redis://127.0.0.1:{free_port()}"
    async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=dead) as client:
        for bad in (0, "x", -5, None, 1.5):
            with pytest.raises(ddiscord.InvalidIdError, match="not a snowflake"):
                await client.cache.member(GUILD, bad)
        with pytest.raises(ddiscord.CacheError, match="DDISCORD_REDIS_URL") as info:
            await client.cache.guild(GUILD)
        assert isinstance(info.value, ConnectionError)


async def test_corrupt_values_raise(redis_server: Redis, mosquitto: Mosquitto) -> None:
    r = redis.Redis(port=redis_server.port)
    r.set(f"dd:guild:{GUILD}", b"{not json")
    async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=redis_server.url) as client:
        with pytest.raises(ddiscord.CorruptCacheError, match=f"dd:guild:{GUILD}"):
            await client.cache.guild(GUILD)
        r.hset(f"dd:guild:{GUILD}:members", "5", b"[1]")
        r.set("dd:user:5", b'{"id":"5"}')
        with pytest.raises(ddiscord.CorruptCacheError, match=f"dd:guild:{GUILD}:members"):
            await client.cache.member(GUILD, 5)
