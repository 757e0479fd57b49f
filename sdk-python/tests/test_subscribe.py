"""Subscriptions over a real Mosquitto: every wildcard form, bad patterns, bad ids, lost connections."""

from __future__ import annotations

import asyncio
import json

import pytest

import ddiscord
from discord import Publisher, envelope, frames, topic_of
from servers import Mosquitto, Redis, free_port
from solace import matches

# Each pattern with a topic it matches, published last as a sentinel.
PATTERNS = [
    ("discord/*/*/MESSAGE_CREATE", "discord/0/-/MESSAGE_CREATE"),  # one level each
    ("discord/*/*/MESSAGE_*", "discord/0/-/MESSAGE_X"),  # prefix within a level
    ("discord/0/>", "discord/0/-/X"),  # trailing levels
    ("discord/*/244567637332328449/*", "discord/0/244567637332328449/X"),  # one guild
    ("discord/*/-/*", "discord/1/-/X"),  # events without a guild
    ("discord/>", "discord/1/-/Y"),  # everything
    ("discord/*/*/GUILD_ROLE_*", "discord/0/-/GUILD_ROLE_X"),
]


async def collect_until(sub: ddiscord.Subscription, session: str) -> list[ddiscord.Event]:
    got = []
    async for event in sub:
        if event.session == session:
            return got
        got.append(event)
    raise AssertionError("stream ended")


async def test_every_wildcard_form(mosquitto: Mosquitto, publisher: Publisher) -> None:
    async with ddiscord.connect(mesh_url=mosquitto.url) as client:
        subs = [await client.subscribe(p) for p, _ in PATTERNS]
        published: list[tuple[str, bytes]] = []
        for i, frame in enumerate(frames()):
            topic = topic_of(frame, shard=i % 2)
            body = envelope(frame, shard=i % 2)
            publisher.publish(topic, body)
            published.append((topic, body))
        # One sentinel per pattern, matching it, published last: order is kept per connection.
        sentinels = []
        for i, (p, topic) in enumerate(PATTERNS):
            assert matches(p, topic), (p, topic)
            sentinels.append((topic, f"sentinel-{i}"))
        for topic, session in sentinels:
            publisher.publish(topic, envelope(b'{"op":0,"t":"X","s":1,"d":{}}', session=session))

        results = await asyncio.wait_for(
            asyncio.gather(*(collect_until(s, f"sentinel-{i}") for i, s in enumerate(subs))), 20
        )
        for i, ((pattern, _), got) in enumerate(zip(PATTERNS, results)):
            expected = [t for t, _ in published if matches(pattern, t)]
            expected += [t for t, _ in sentinels[:i] if matches(pattern, t)]
            assert expected, f"the fixtures exercise {pattern}"
            assert [e.topic for e in got] == expected, pattern


async def test_event_fields_and_payload(mosquitto: Mosquitto, publisher: Publisher) -> None:
    frame = next(f for f in frames() if b'"GUILD_MEMBER_ADD"' in f)
    async with ddiscord.connect(mesh_url=mosquitto.url) as client:
        sub = await client.subscribe("discord/*/*/GUILD_MEMBER_ADD")
        body = envelope(frame, shard=1, session="abc")
        publisher.publish(topic_of(frame, shard=1), body)
        event = await asyncio.wait_for(sub.__anext__(), 10)
        assert event.name == "GUILD_MEMBER_ADD"
        assert event.shard == 1
        assert event.guild_id == 244567637332328449
        assert event.session == "abc"
        assert event.sequence == json.loads(frame)["s"]
        assert event.tree == "dispatch"
        assert event.raw == body
        assert event.data == json.loads(frame)["d"]
        assert json.loads(event.raw_data) == event.data
        assert event.data is event.data  # parsed once


@pytest.mark.parametrize(
    "pattern, says",
    [
        ("discord//MESSAGE_CREATE", "level 2 is empty"),
        ("discord/+/x", "MQTT reads as a wildcard"),
        ("discord/#", "MQTT reads as a wildcard"),
        ("discord/a*b/x", "`*` before its end"),
        ("discord/>/x", "`>`"),
        ("other/*/*/READY", "must start with `discord/`"),
        ("", "empty"),
    ],
)
async def test_bad_patterns_raise(mosquitto: Mosquitto, pattern: str, says: str) -> None:
    async with ddiscord.connect(mesh_url=mosquitto.url) as client:
        with pytest.raises(ddiscord.PatternError, match=None) as info:
            client.subscribe(pattern)
        assert says in str(info.value), str(info.value)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, ddiscord.DDiscordError)


async def test_bad_ids_raise(mosquitto: Mosquitto, redis_server: Redis) -> None:
    # A private Redis: the shard count is checked against the one ingest recorded there.
    async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=redis_server.url, shards=4) as client:
        assert client.shard_for(81384788765712384) == ddiscord.shard_for_guild(81384788765712384, 4)
        assert client.shard_for("81384788765712384") == client.shard_for(81384788765712384)
        for bad in (0, -1, "abc", "", 2**64, 1.5, None):
            with pytest.raises(ddiscord.InvalidIdError, match="not a snowflake"):
                client.shard_for(bad)  # type: ignore[arg-type]


async def test_connect_to_nothing_times_out() -> None:
    port = free_port()
    with pytest.raises(ddiscord.TimeoutError, match="is the broker running"):
        await ddiscord.connect(mesh_url=f"mqtt://127.0.0.1:{port}", connect_timeout=0.5)
    with pytest.raises(ddiscord.MeshError, match="mesh"):
        await ddiscord.connect(mesh_url="ftp://nowhere")
    with pytest.raises(ddiscord.ConfigError, match="DDISCORD_SHARDS"):
        await ddiscord.connect(mesh_url=f"mqtt://127.0.0.1:{port}", shards=0)


async def test_lost_connection_raises_then_recovers(mosquitto: Mosquitto, publisher: Publisher) -> None:
    async with ddiscord.connect(mesh_url=mosquitto.url) as client:
        sub = await client.subscribe("discord/>")
        frame = frames()[0]
        publisher.publish(topic_of(frame), envelope(frame, session="before"))
        assert (await asyncio.wait_for(sub.__anext__(), 10)).session == "before"
        publisher.close()
        mosquitto.kill()
        with pytest.raises(ddiscord.ConnectionLostError, match="connection to the event mesh lost"):
            await asyncio.wait_for(sub.__anext__(), 10)
        mosquitto.start_again()
        again = Publisher(mosquitto.port)
        try:
            # The client reconnects and resubscribes in the background; publish until it is back.
            async def first_after() -> ddiscord.Event:
                while True:
                    try:
                        return await sub.__anext__()
                    except ddiscord.ConnectionLostError:
                        continue

            task = asyncio.ensure_future(first_after())
            for _ in range(200):
                again.publish(topic_of(frame), envelope(frame, session="after"))
                done, _ = await asyncio.wait({task}, timeout=0.05)
                if done:
                    break
            assert (await asyncio.wait_for(task, 10)).session == "after"
        finally:
            again.close()
