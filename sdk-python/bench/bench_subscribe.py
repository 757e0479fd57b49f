"""Events per second delivered into a Python loop: ddiscord's `async for` beside paho-mqtt's
`on_message` callback, on the same private Mosquitto, the same topic and the same messages, in
the same run. Bounded (a few seconds per round).

    python sdk-python/bench/bench_subscribe.py [--messages N] [--rounds R]

The publisher (`mosquitto_pub -l`, QoS 0, about 40k messages/s here) would be the bottleneck,
so each consumer holds its loop until all messages are published (ddiscord buffers them in its
subscription, paho in its socket and the broker's queue) and then drains them: the rate is
messages over the time from the first to the last one handled by the loop. `--messages` must
stay below the subscription's 65,536-event buffer. Two loop bodies: `raw` (touch the topic) and
`parsed` (decode the payload's `d`: `event.data` vs `json.loads`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import paho.mqtt.client as mqtt  # noqa: E402

import ddiscord  # noqa: E402
from discord import FIXTURES, envelope  # noqa: E402
from servers import Mosquitto, find_binary  # noqa: E402

TOPIC = "discord/0/900000000000000008/MESSAGE_CREATE"
PATTERN = "discord/*/*/MESSAGE_CREATE"


def payload() -> bytes:
    line = next(
        l for l in (FIXTURES / "events_v10.jsonl").read_bytes().splitlines() if b'"MESSAGE_CREATE"' in l
    )
    return envelope(line.strip())


def publish(port: int, body: bytes, n: int) -> None:
    pub = find_binary("mosquitto_pub", "DDISCORD_MOSQUITTO_PUB")
    data = (body + b"\n") * n
    subprocess.run([pub, "-h", "127.0.0.1", "-p", str(port), "-q", "0", "-t", TOPIC, "-l"], input=data, check=True)


async def run_ddiscord(port: int, body: bytes, n: int, parsed: bool) -> tuple[float, int]:
    async with ddiscord.connect(mesh_url=f"mqtt://127.0.0.1:{port}") as client:
        sub = await client.subscribe(PATTERN)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, publish, port, body, n)
        count = 0
        first = last = 0.0
        sink = 0

        async def consume() -> None:
            nonlocal count, first, last, sink
            async for event in sub:
                if count == 0:
                    first = time.perf_counter()
                if parsed:
                    sink += len(event.data["content"])
                else:
                    sink += len(event.topic)
                count += 1
                if count == n:
                    break
            last = time.perf_counter()

        try:
            await asyncio.wait_for(consume(), 60)
        except asyncio.TimeoutError:
            last = time.perf_counter()
        await sub.close()
        return (count - 1) / (last - first) if count > 1 else 0.0, count


def run_paho(port: int, body: bytes, n: int, parsed: bool) -> tuple[float, int]:
    done = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0, "sink": 0}
    subscribed = threading.Event()

    go = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if state["count"] == 0:
            go.wait(60)  # hold the loop until everything is published
            state["first"] = time.perf_counter()
        if parsed:
            state["sink"] += len(json.loads(msg.payload)["d"]["content"])
        else:
            state["sink"] += len(msg.topic)
        state["count"] += 1
        if state["count"] == n:
            state["last"] = time.perf_counter()
            done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho")
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe("discord/+/+/MESSAGE_CREATE", qos=0)
    client.loop_start()
    subscribed.wait(10)
    publish(port, body, n)
    go.set()
    if not done.wait(60):
        state["last"] = time.perf_counter()
    client.loop_stop()
    client.disconnect()
    count = int(state["count"])
    return (count - 1) / (state["last"] - state["first"]) if count > 1 else 0.0, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = payload()
    broker = Mosquitto()
    try:
        print(f"{args.messages} messages of {len(body)} bytes per round, {args.rounds} rounds, QoS 0, one Mosquitto")
        for parsed in (False, True):
            best_dd = best_paho = 0.0
            for _ in range(args.rounds):
                rate, got = asyncio.run(run_ddiscord(broker.port, body, args.messages, parsed))
                best_dd = max(best_dd, rate)
                if got < args.messages:
                    print(f"  ddiscord received {got}/{args.messages}")
                rate, got = run_paho(broker.port, body, args.messages, parsed)
                best_paho = max(best_paho, rate)
                if got < args.messages:
                    print(f"  paho received {got}/{args.messages}")
            body_name = "parsed (d decoded)" if parsed else "raw (topic only)"
            print(
                f"{body_name:20} ddiscord async for: {best_dd:>10,.0f} events/s   "
                f"paho-mqtt on_message: {best_paho:>10,.0f} events/s   ratio {best_dd / best_paho:.2f}x"
            )
    finally:
        broker.close()


if __name__ == "__main__":
    main()
