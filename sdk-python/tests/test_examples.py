"""The examples in examples/python/, run as their own processes against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from discord import FIXTURES, Publisher, envelope
from projection import project, session_v10
from servers import REPO, Mosquitto, Redis

EXAMPLES = REPO / "examples" / "python"


def start(script: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / script), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", line + proc.stdout.read()
    return proc


def wait_for(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_moderation_counts_messages_per_role(mosquitto: Mosquitto, redis_server: Redis, publisher: Publisher) -> None:
    project(redis_server.url, session_v10())
    r = redis.Redis(port=redis_server.port, decode_responses=True)
    frames = [
        line
        for line in (FIXTURES / "events_v10.jsonl").read_bytes().splitlines()
        if b'"MESSAGE_CREATE"' in line
    ]
    env = {"DDISCORD_MESH_URL": mosquitto.url, "DDISCORD_REDIS_URL": redis_server.url}
    proc = start("moderation.py", env, "--max-events", str(len(frames)))
    expected: Counter[str] = Counter()
    for i, frame in enumerate(frames):
        parsed = json.loads(frame)
        guild = parsed["d"].get("guild_id")
        # As the state worker does after applying the event.
        publisher.publish(f"discord-state/0/{guild or '-'}/MESSAGE_CREATE", envelope(frame))
        author = parsed["d"]["author"]
        if guild and not author.get("bot"):
            raw = r.hget(f"dd:guild:{guild}:members", author["id"])
            roles = json.loads(raw)["roles"] if raw else []
            for role in roles or ["@everyone"]:
                expected[str(role)] += 1
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts == dict(expected)
    assert sum(counts.values()) > 0


@pytest.fixture
def replicas(mosquitto: Mosquitto, redis_server: Redis) -> Iterator[list[subprocess.Popen[str]]]:
    env = {
        "DDISCORD_MESH_URL": mosquitto.url,
        "DDISCORD_REDIS_URL": redis_server.url,
        "DDISCORD_SHARDS": "4",
        "EXAMPLE_LEASE_TTL": "2",
    }
    procs = [start("work_queue.py", {**env, "EXAMPLE_REPLICA": name}) for name in ("a", "b")]
    yield procs
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(10)
        if p.stdout is not None:
            p.stdout.close()


def publish_events(publisher: Publisher, start: int, count: int) -> None:
    frame = b'{"op":0,"t":"TYPING_START","s":0,"d":{"channel_id":"1","user_id":"2","timestamp":1}}'
    for seq in range(start, start + count):
        shard = seq % 4
        publisher.publish(f"discord/{shard}/-/TYPING_START", envelope(frame, shard=shard, seq=seq))


def test_work_queue_handles_each_event_once(replicas: list[subprocess.Popen[str]], redis_server: Redis, publisher: Publisher) -> None:
    r = redis.Redis(port=redis_server.port, decode_responses=True)
    publish_events(publisher, 1, 200)
    wait_for(lambda: r.get("example:wq:handled") == "200", 30, "200 events handled")
    done = r.keys("example:wq:done:*")
    assert len(done) == 200
    log = r.lrange("example:wq:log", 0, -1)
    assert sum(1 for line in log if line.endswith("first")) == 200


def test_work_queue_survives_a_killed_replica(replicas: list[subprocess.Popen[str]], redis_server: Redis, publisher: Publisher) -> None:
    r = redis.Redis(port=redis_server.port, decode_responses=True)
    publish_events(publisher, 1, 100)
    wait_for(lambda: int(r.get("example:wq:handled") or 0) == 100, 30, "the first 100 events")
    assert any(line.startswith("a ") for line in r.lrange("example:wq:log", 0, -1)), "replica a held shards"
    replicas[0].kill()  # SIGKILL: no clean shutdown, its leases expire
    replicas[0].wait(10)
    publish_events(publisher, 101, 100)
    wait_for(lambda: int(r.get("example:wq:handled") or 0) == 200, 40, "the other 100 events after the kill")
    seqs = sorted(int(k.rsplit(":", 1)[1]) for k in r.keys("example:wq:done:*"))
    assert seqs == list(range(1, 201))
