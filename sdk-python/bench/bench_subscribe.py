"""Events per second delivered into a Python loop: ddiscord's `async for` beside paho-mqtt's
`on_message` callback, on the same private Mosquitto, the same messages, in the same run.
Bounded: a few rounds of N messages, about a minute in all.

    python sdk-python/bench/bench_subscribe.py [--messages N] [--rounds R] [--overload M]

What both sides time, identically: each consumer runs alone in its own process (this script
with `--consume`), subscribed (SUBACK received) and waiting in its loop (ddiscord's `async for`
on asyncio; paho's `loop_forever` on the main thread); one publisher (flood.py, a separate
process faster than either consumer) is connected and idle. The clock starts here immediately
before the publisher is told to start and stops at the consumer's clock reading (the system's
monotonic clock, `time.monotonic_ns`) after its loop body handled the last message. So both
figures include the broker's forwarding, the socket reads, MQTT decoding and the delivery into
the loop, for the same messages: N copies of one captured MESSAGE_CREATE envelope on the same
topic, QoS 0. The loop bodies do the same work per message: `name` reads the dispatch name from
the topic (`event.name`; `msg.topic.split("/")[3]` for paho), `parsed` decodes the whole
envelope with `json.loads` and reads `d.content` (`json.loads(event.raw)`;
`json.loads(msg.payload)`). Rate = messages handled / (stop - start). Rounds alternate which
side goes first; the ratio is ddiscord's rate over paho's in the same round. Each consumer also
reports the CPU time its process spent from subscribed to done (all threads), which a machine
short of cores disturbs less than the rates.

The earlier version of this benchmark published everything first and started ddiscord's clock
at its first event, when the messages already sat in its native buffer, while paho's clock
included its socket reads; both clocks now start before the first publish.

Past capacity: the last part publishes `--overload` messages (more than ddiscord's 65,536-event
subscription buffer) with the same publisher and reports, per side, how many reached the loop (a
direct subscription drops what overflows its buffer; paho leaves the backlog to the socket and
the broker) and the consumer process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from discord import FIXTURES, envelope  # noqa: E402

TOPIC = "discord/0/900000000000000008/MESSAGE_CREATE"
PATTERN = "discord/*/*/MESSAGE_CREATE"
IDLE_S = 2.0


def payload() -> bytes:
    line = next(
        l for l in (FIXTURES / "events_v10.jsonl").read_bytes().splitlines() if b'"MESSAGE_CREATE"' in l
    )
    return envelope(line.strip())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Tally:
    """What a consumer reports: events handled, when the last was, CPU and memory."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0
        self.sink = 0
        self.cpu0 = 0.0
        self.rss_ready = 0.0

    def ready(self) -> None:
        self.rss_ready = rss_mb()
        self.cpu0 = time.process_time()
        print("ready", flush=True)

    def report(self) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = {
            "received": self.count,
            "last_ns": self.last,
            "cpu_ms": (time.process_time() - self.cpu0) * 1000,
            "rss_ready_mb": self.rss_ready,
            "rss_peak_mb": peak,
        }
        print(json.dumps(out), flush=True)


async def consume_ddiscord(port: int, n: int, parsed: bool) -> None:
    import ddiscord

    tally = Tally()
    async with ddiscord.connect(mesh_url=f"mqtt://127.0.0.1:{port}") as client:
        sub = await client.subscribe(PATTERN)

        async def loop() -> None:
            async for event in sub:
                if parsed:
                    tally.sink += len(json.loads(event.raw)["d"]["content"])
                else:
                    tally.sink += len(event.name)
                tally.last = time.monotonic_ns()
                tally.count += 1
                if tally.count == n:
                    break

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)  # the loop now waits for its first batch
        tally.ready()
        seen = -1
        while not task.done():
            # Fewer than n came (dropped on the way): end 2 s after the last one.
            if tally.count > 0 and tally.count == seen:
                task.cancel()
                break
            seen = tally.count
            await asyncio.wait([task], timeout=IDLE_S)
        tally.report()
        await sub.close()


def consume_paho(port: int, n: int, parsed: bool) -> None:
    import paho.mqtt.client as mqtt

    tally = Tally()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-paho-{os.getpid()}")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if parsed:
            tally.sink += len(json.loads(msg.payload)["d"]["content"])
        else:
            tally.sink += len(msg.topic.split("/")[3])
        tally.last = time.monotonic_ns()
        tally.count += 1
        if tally.count == n:
            client.disconnect()

    def watchdog() -> None:
        seen = -1
        while True:
            time.sleep(IDLE_S)
            if tally.count == n:
                return
            if tally.count > 0 and tally.count == seen:
                client.disconnect()
                return
            seen = tally.count

    client.on_message = on_message
    client.on_subscribe = lambda *a: tally.ready()
    client.connect("127.0.0.1", port)
    client.subscribe("discord/+/+/MESSAGE_CREATE", qos=0)
    threading.Thread(target=watchdog, daemon=True).start()
    client.loop_forever()
    tally.report()


def spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def expect(out: IO[str] | None, what: str) -> str:
    assert out is not None
    line = out.readline().strip()
    if not line:
        raise RuntimeError(f"{what} exited without an answer")
    return line


def run_one(port: int, file: str, side: str, body: str, n: int) -> dict[str, Any]:
    consumer = spawn([__file__, "--consume", side, body, str(port), str(n)])
    flood = spawn([str(HERE / "flood.py"), str(port), TOPIC, str(n), file])
    try:
        assert expect(consumer.stdout, f"{side} consumer") == "ready"
        assert expect(flood.stdout, "publisher") == "ready"
        assert flood.stdin is not None
        start = time.monotonic_ns()
        flood.stdin.write("go\n")
        flood.stdin.flush()
        r: dict[str, Any] = json.loads(expect(consumer.stdout, f"{side} consumer"))
    finally:
        consumer.wait(60)
        flood.wait(60)
    seconds = (r["last_ns"] - start) / 1e9
    r["rate"] = r["received"] / seconds if seconds > 0 else 0.0
    return r


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overload", type=int, default=300_000)
    parser.add_argument("--consume", nargs=4, metavar=("SIDE", "BODY", "PORT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:
        side, body, port, n = args.consume
        if side == "ddiscord":
            asyncio.run(consume_ddiscord(int(port), int(n), body == "parsed"))
        else:
            consume_paho(int(port), int(n), body == "parsed")
        return

    from servers import Mosquitto

    body_bytes = payload()
    broker = Mosquitto()
    with tempfile.TemporaryDirectory() as tmp:
        file = str(Path(tmp) / "envelope.json")
        Path(file).write_bytes(body_bytes)
        try:
            print(f"{args.messages} messages of {len(body_bytes)} bytes per round, {args.rounds} rounds, QoS 0, one Mosquitto")
            for body in ("name", "parsed"):
                ours: list[float] = []
                theirs: list[float] = []
                ratios: list[float] = []
                cpu_ours: list[float] = []
                cpu_theirs: list[float] = []
                for r in range(args.rounds):
                    order = ("ddiscord", "paho") if r % 2 == 0 else ("paho", "ddiscord")
                    got = {side: run_one(broker.port, file, side, body, args.messages) for side in order}
                    a, b = got["ddiscord"], got["paho"]
                    ours.append(a["rate"])
                    theirs.append(b["rate"])
                    ratios.append(a["rate"] / b["rate"])
                    cpu_ours.append(a["cpu_ms"] * 1000 / max(a["received"], 1))
                    cpu_theirs.append(b["cpu_ms"] * 1000 / max(b["received"], 1))
                    print(
                        f"  round {r + 1} ({body}): ddiscord {a['received']} at {a['rate']:,.0f}/s "
                        f"(cpu {a['cpu_ms']:,.0f} ms, peak rss {a['rss_peak_mb']:,.0f} MiB); "
                        f"paho {b['received']} at {b['rate']:,.0f}/s "
                        f"(cpu {b['cpu_ms']:,.0f} ms, peak rss {b['rss_peak_mb']:,.0f} MiB); ratio {a['rate'] / b['rate']:.2f}x"
                    )
                print(
                    f"{body:6} ddiscord async for: {median(ours):>10,.0f} events/s   "
                    f"paho-mqtt on_message: {median(theirs):>10,.0f} events/s   ratio {median(ratios):.2f}x (median of {args.rounds}); "
                    f"process CPU per event {median(cpu_ours):.1f} µs (all threads) vs {median(cpu_theirs):.1f} µs"
                )
            print(f"past capacity: {args.overload} messages as fast as the publisher writes them (loop body: name)")
            for side in ("ddiscord", "paho"):
                o = run_one(broker.port, file, side, "name", args.overload)
                print(
                    f"  {side}: {o['received']} of {args.overload} reached the loop ({args.overload - o['received']} dropped) "
                    f"at {o['rate']:,.0f}/s; rss {o['rss_ready_mb']:,.0f} MiB when subscribed, peak {o['rss_peak_mb']:,.0f} MiB"
                )
        finally:
            broker.close()


if __name__ == "__main__":
    main()
