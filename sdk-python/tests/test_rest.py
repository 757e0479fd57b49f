"""``client.rest`` against the simulator (``ddiscord sim``): the example deletes a message and
adds a role, and the simulator's own REST API shows both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from discord import FIXTURES
from servers import REPO, Mosquitto, Redis, ddiscord_binary, free_port


class Sim:
    """``ddiscord sim`` on a free port, with its REST limits on."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(ddiscord_binary()), "sim", "--bind", f"127.0.0.1:{self.port}", "--guilds", "2", "--events-per-sec", "0"],
            env={**os.environ, "DDISCORD_FIXTURES": str(FIXTURES)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/api/v10/gateway")
                return
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get(self, path: str) -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path, headers={"Authorization": "Bot sim-token"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def sim() -> Iterator[Sim]:
    s = Sim()
    yield s
    s.close()


def test_rest_example_deletes_a_message_and_adds_a_role(mosquitto: Mosquitto, redis_server: Redis, sim: Sim) -> None:
    status, me = sim.get("/api/v10/users/@me")
    assert status == 200
    status, guilds = sim.get("/api/v10/users/@me/guilds")
    assert status == 200
    # A guild with a text channel, a role, and a member who is not the bot.
    picked = None
    for guild_id in [g["id"] for g in guilds]:
        g = sim.get(f"/api/v10/guilds/{guild_id}")[1]
        channels = sim.get(f"/api/v10/guilds/{guild_id}/channels")[1]
        members = sim.get(f"/api/v10/guilds/{guild_id}/members?limit=100")[1]
        text = [c["id"] for c in channels if c["type"] == 0]
        roles = [r["id"] for r in g["roles"] if r["id"] != guild_id]
        users = [m["user"]["id"] for m in members if m["user"]["id"] != me["id"]]
        if text and roles and users:
            picked = (text[0], guild_id, users[0], roles[0])
            break
    assert picked is not None, f"no guild with a channel, role and member among {guilds}"
    channel, guild_id, user, role = picked
    env = {
        **os.environ,
        "DDISCORD_MESH_URL": mosquitto.url,
        "DDISCORD_REDIS_URL": redis_server.url,
        "DISCORD_TOKEN": "sim-token",
        "DDISCORD_REST_URL": sim.url,
    }
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "rest.py"), channel, guild_id, user, role],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert role in result["roles"]
    status, body = sim.get(f"/api/v10/channels/{channel}/messages/{result['deleted']}")
    assert (status, body["code"]) == (404, 10008)
    status, member = sim.get(f"/api/v10/guilds/{guild_id}/members/{user}")
    assert status == 200 and role in member["roles"]
