"""Envelopes built from the captured Discord payloads, and a plain MQTT publisher."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Optional

import paho.mqtt.client as mqtt

from servers import REPO

FIXTURES = Path(os.environ.get("DDISCORD_FIXTURES", REPO.parent / "shared" / "fixtures" / "discord"))
GUILD_IS_ID = {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"}
NO_GUILD = {"READY", "RESUMED", "USER_UPDATE"}


def frames(name: str = "events_v6_upgraded.jsonl") -> list[bytes]:
    """The dispatch frames (op 0) of a fixture file, bytes as captured."""
    out = []
    for line in (FIXTURES / name).read_bytes().splitlines():
        if line.strip() and json.loads(line).get("op") == 0:
            out.append(line.strip())
    return out


def guild_of(frame: dict[str, Any]) -> Optional[int]:
    t, d = frame.get("t"), frame.get("d")
    if t in NO_GUILD or not isinstance(d, dict):
        return None
    g = d.get("id") if t in GUILD_IS_ID else d.get("guild_id")
    return int(g) if g else None


def envelope(frame: bytes, shard: int = 0, session: str = "test-session", seq: Optional[int] = None) -> bytes:
    """Splices the envelope fields in front of the frame's bytes (topics.yaml `envelope`)."""
    head = json.dumps({"shard": shard, "session": session, "received_ms": int(time.time() * 1000)})
    body = frame
    if seq is not None:
        parsed = json.loads(frame)
        parsed["s"] = seq
        body = json.dumps(parsed, separators=(",", ":")).encode()
    return head[:-1].encode() + b"," + body.lstrip()[1:]


def topic_of(frame: bytes, shard: int = 0, root: str = "discord") -> str:
    parsed = json.loads(frame)
    guild = guild_of(parsed)
    return f"{root}/{shard}/{guild if guild else '-'}/{parsed['t']}"


class Publisher:
    """A paho-mqtt client that publishes at QoS 1 and waits for each PUBACK."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{os.getpid()}-{time.monotonic_ns()}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
