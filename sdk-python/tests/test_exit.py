"""Interpreter exit while events keep arriving: a script that stops reading, by any of the ways a
script ends, exits with status 0 and nothing on stderr. (The native runtime completes awaitables from
its own threads; without the orderly stop at exit, one of them could take the GIL while CPython
finalizes and abort the process.)"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from discord import Publisher, envelope
from servers import Mosquitto

# Each way a script can end, as the body of `async def main(client)`.
ENDINGS = {
    # Leaves `async with` normally: the subscription and the client are closed.
    "closed": """
    async with client.subscribe("discord/>") as events:
        async for _ in events:
            break
""",
    # Returns with a read still pending in another task: asyncio.run cancels it on the way out.
    "cancelled": """
    events = await client.subscribe("discord/>")
    async def read():
        async for _ in events:
            pass
    asyncio.get_running_loop().create_task(read())
    await asyncio.sleep(0.05)
""",
    # Never closes anything: the interpreter exits with the client and its stream still open.
    "abandoned": """
    events = await client.subscribe("discord/>")
    await events.next_batch()
    global kept
    kept = (client, events)
""",
}

SCRIPT = """
import asyncio, sys
import ddiscord

async def main(client):
{body}

async def run():
    client = await ddiscord.connect(mesh_url=sys.argv[1])
    await main(client)

asyncio.run(run())
print("done", flush=True)
"""

RUNS = 8


@pytest.fixture
def traffic(mosquitto: Mosquitto) -> Iterator[None]:
    """Publishes small dispatches at QoS 0 until the test ends."""
    publisher = Publisher(mosquitto.port)
    stop = threading.Event()
    body = envelope(b'{"op":0,"t":"TYPING_START","s":1,"d":{"channel_id":"1"}}')

    def flood() -> None:
        while not stop.is_set():
            for _ in range(50):
                publisher.client.publish("discord/0/-/TYPING_START", body, qos=0)
            stop.wait(0.001)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()
    publisher.close()


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_exit_under_traffic(ending: str, mosquitto: Mosquitto, traffic: None, tmp_path: Path) -> None:
    script = tmp_path / f"{ending}.py"
    script.write_text(SCRIPT.format(body=ENDINGS[ending]))
    for run in range(RUNS):
        done = subprocess.run(
            [sys.executable, str(script), mosquitto.url], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stdout == "done\n" and done.stderr == "", (
            f"run {run} of {ending!r}: status {done.returncode}\n{done.stdout}{done.stderr}"
        )
