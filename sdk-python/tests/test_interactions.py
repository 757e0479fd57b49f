"""HTTP interactions end to end: the simulator signs an interaction and POSTs it to
`ddiscord interactions`, which publishes it as INTERACTION_CREATE; `examples/python/interactions.py`
(the Python SDK subscribed to INTERACTION_CREATE) answers with `reply_interaction` within the
deadline, and the simulator sees that answer. An interaction nobody answers is deferred within the
deadline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import REPO, Mosquitto, ddiscord_binary, free_port

DEADLINE_MS = 2500


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    """Polls `check` until it returns a truthy value; fails after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url: str, body: bytes = b"") -> Any:
    req = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.loads(r.read())


@pytest.fixture
def stack(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The simulator and one endpoint replica on the private broker, ready."""
    procs: list[subprocess.Popen[bytes]] = []
    sim_port, endpoint_port, ops_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DDISCORD_", "DISCORD_"))}
    with (tmp_path / "sim.log").open("w") as log:
        procs.append(
            subprocess.Popen(
                [str(ddiscord_binary()), "sim", "--bind", f"127.0.0.1:{sim_port}", "--events-per-sec", "0",
                 "--interactions-url", f"http://127.0.0.1:{endpoint_port}/interactions"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )
    sim = f"http://127.0.0.1:{sim_port}"
    status, key = wait_for("the simulator", lambda: get(f"{sim}/control/interactions/public-key"))
    assert status == 200, key
    endpoint_env = dict(env, DISCORD_PUBLIC_KEY=json.loads(key)["public_key"], DDISCORD_MESH_URL=mosquitto.url,
                        DDISCORD_INTERACTIONS_ADDR=f"127.0.0.1:{endpoint_port}",
                        DDISCORD_HTTP_ADDR=f"127.0.0.1:{ops_port}",
                        DDISCORD_INTERACTIONS_DEADLINE_MS=str(DEADLINE_MS))
    with (tmp_path / "endpoint.log").open("w") as log:
        procs.append(subprocess.Popen([str(ddiscord_binary()), "interactions"], env=endpoint_env, stdout=log,
                                      stderr=subprocess.STDOUT))
    wait_for("the endpoint's /readyz", lambda: get(f"http://127.0.0.1:{ops_port}/readyz")[0] == 200)
    yield {"sim": sim, "mesh": mosquitto.url, "ops": f"http://127.0.0.1:{ops_port}", "logs": str(tmp_path)}
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)


def test_a_python_script_answers_within_the_deadline(stack: dict[str, str]) -> None:
    env = dict(os.environ, DDISCORD_MESH_URL=stack["mesh"])
    script = subprocess.Popen(
        [sys.executable, str(REPO / "examples" / "python" / "interactions.py"), "--max-events", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert script.stdout is not None
        assert script.stdout.readline().strip() == "ready"
        answer = post(f"{stack['sim']}/control/interaction")
        assert answer["status"] == 200, answer
        assert answer["body"] == {"type": 4, "data": {"content": "pong from /ping"}}, answer
        assert answer["elapsed_ms"] < DEADLINE_MS, answer
        out, err = script.communicate(timeout=30)
        assert script.returncode == 0, err
        assert out.startswith("answered /ping"), out
    finally:
        if script.poll() is None:
            script.kill()
            script.communicate()


def test_an_unanswered_interaction_is_deferred(stack: dict[str, str]) -> None:
    answer = post(f"{stack['sim']}/control/interaction")
    assert answer["status"] == 200, answer
    assert answer["body"] == {"type": 5}, answer
    assert DEADLINE_MS <= answer["elapsed_ms"] < 3000, answer
    # A PING is answered at once; a stale timestamp is refused.
    ping = json.dumps({"id": "1", "application_id": "2", "type": 1, "token": "t", "version": 1}).encode()
    assert post(f"{stack['sim']}/control/interaction", ping)["body"] == {"type": 1}
    assert post(f"{stack['sim']}/control/interaction?age_s=3600")["status"] == 401
    status, metrics = get(f"{stack['ops']}/metrics")
    assert status == 200
    assert 'ddiscord_interactions_requests_total{outcome="deferred"} 1' in metrics, metrics
