"""The whole pipeline, measured: simulator → ingest → Mosquitto → state worker → Redis → a Python
script on `discord-state/…`, beside the broker's own publish→subscribe rate for the same message
size, in the same run. Bounded (about a minute).

    python sdk-python/bench/bench_pipeline.py [--rate EVENTS_PER_S] [--seconds S] [--bin PATH]

Every process is real and separate: `ddiscord sim`, `ddiscord ingest`, `ddiscord state-worker`
(the release binary; `scripts/bench python` builds it), a private Mosquitto and a private Redis.
The script counts events that reach its `async for` loop on the state tree (so each one is already
applied to Redis) and measures the latency from ingest's read of the frame (`received_ms` in the
envelope; the simulator sends over loopback, so this is within a millisecond of the simulator's
send) to the loop.

Two rounds: `offered` runs the simulator at `--rate` and reports delivered events/s and latency
p50/p99; `saturated` offers 10x that rate and reports what the pipeline sustains. The baseline
is `mosquitto_pub -l` → `mosquitto_sub` through the same broker with messages of the mean
envelope size seen in the run (QoS 1, as the pipeline's durable hops use).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import ddiscord  # noqa: E402
from servers import REPO, Mosquitto, Redis, find_binary, free_port  # noqa: E402

SHARDS = 2


def default_bin() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ddiscord/target"))
    return target / "release" / "ddiscord"


class Pipeline:
    """`ddiscord sim`, `state-worker` and `ingest` as child processes."""

    def __init__(self, binary: Path, mosquitto: Mosquitto, redis: Redis, rate: float, workdir: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        sim_port = free_port()
        env = {
            **os.environ,
            "DDISCORD_LOG": "warn",
            "DDISCORD_MESH_URL": mosquitto.url,
            "DDISCORD_REDIS_URL": redis.url,
            "DDISCORD_SHARDS": str(SHARDS),
            "DISCORD_TOKEN": "sim-token",
            "DDISCORD_GATEWAY_URL": f"ws://127.0.0.1:{sim_port}",
            "DDISCORD_IDENTIFY_RESERVE": "0",
        }
        log = open(workdir / "pipeline.log", "ab")
        self.start(binary, ["sim", "--bind", f"127.0.0.1:{sim_port}", "--shards", str(SHARDS),
                            "--guilds", "20", "--events-per-sec", str(rate), "--max-concurrency", str(SHARDS),
                            "--record-limit", "1000"], env, log)
        self.start(binary, ["state-worker", "--http-addr", f"127.0.0.1:{free_port()}"], env, log)
        self.start(binary, ["ingest", "--http-addr", f"127.0.0.1:{free_port()}"], env, log)

    def start(self, binary: Path, args: list[str], env: dict[str, str], log: object) -> None:
        self.procs.append(subprocess.Popen([str(binary), *args], env=env, stdout=log, stderr=log))  # type: ignore[arg-type]
        time.sleep(0.5)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


async def measure(mesh_url: str, redis_url: str, warmup: float, seconds: float) -> tuple[float, list[float], float]:
    """Events/s into the loop, latencies in ms, mean envelope size in bytes."""
    latencies: list[float] = []
    sizes = 0
    count = 0
    async with ddiscord.connect(mesh_url=mesh_url, redis_url=redis_url) as client:
        sub = await client.subscribe_state("discord/>")
        measuring_from = time.monotonic() + warmup

        async def loop() -> None:
            nonlocal sizes, count
            async for event in sub:
                if time.monotonic() < measuring_from:
                    continue
                count += 1
                sizes += len(event.raw)
                if event.received_ms:
                    latencies.append(time.time() * 1000 - event.received_ms)

        task = asyncio.ensure_future(loop())
        # The loop is stopped by the clock, not by an event: a stalled pipeline delivers none.
        await asyncio.sleep(warmup + seconds)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    return count / seconds, latencies, sizes / max(count, 1)


def broker_baseline(mosquitto: Mosquitto, size: int, messages: int) -> float:
    """Messages/s from `mosquitto_pub -l` to `mosquitto_sub` at QoS 1, first to last message."""
    pub = find_binary("mosquitto_pub", "DDISCORD_MOSQUITTO_PUB")
    sub_bin = find_binary("mosquitto_sub", "DDISCORD_MOSQUITTO_SUB")
    port = str(mosquitto.port)
    sub = subprocess.Popen([sub_bin, "-p", port, "-q", "1", "-t", "baseline/#", "-C", str(messages)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    line = b"x" * max(size - 1, 1) + b"\n"
    started = time.monotonic()
    subprocess.run([pub, "-p", port, "-q", "1", "-t", "baseline/x", "-l"], input=line * messages, check=True)
    assert sub.stdout is not None
    sub.stdout.read()
    sub.wait(60)
    return messages / (time.monotonic() - started)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s offered in the first round")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per round")
    parser.add_argument("--bin", type=Path, default=default_bin(), help="the ddiscord binary")
    args = parser.parse_args()
    if not args.bin.exists():
        sys.exit(f"{args.bin} not found: build it with `cargo build --release -p ddiscord-cli`")

    print(f"pipeline: sim ({SHARDS} shards) → ingest → Mosquitto → state worker → Redis → Python, {args.seconds:.0f} s per round")
    results = {}
    mean_size = 0.0
    for name, rate in (("offered", args.rate), ("saturated", args.rate * 10)):
        with tempfile.TemporaryDirectory() as d:
            workdir = Path(d)
            mosquitto = Mosquitto()
            redis = Redis()
            pipeline = Pipeline(args.bin, mosquitto, redis, rate, workdir)
            try:
                rate_in, lat, size = asyncio.run(measure(mosquitto.url, redis.url, warmup=8.0, seconds=args.seconds))
            finally:
                pipeline.stop()
            mean_size = max(mean_size, size)
            results[name] = (rate, rate_in, lat)
            print(f"  {name:9} offered {rate:>8.0f} ev/s  delivered {rate_in:>8.0f} ev/s  "
                  f"latency p50 {pct(lat, 50):6.1f} ms  p99 {pct(lat, 99):6.1f} ms  (mean envelope {size:.0f} B)")
            if name == "saturated":
                baseline = broker_baseline(mosquitto, int(mean_size), 50_000)
            mosquitto.close()
            redis.close()
    print(f"  baseline  mosquitto_pub → mosquitto_sub, QoS 1, {int(mean_size)} B: {baseline:8.0f} msg/s")
    sustained = results["saturated"][1]
    print(f"ratio: pipeline sustained / broker pub→sub = {sustained / baseline:.3f} "
          f"(each event crosses the broker twice: dispatch and state tree)")


if __name__ == "__main__":
    main()
