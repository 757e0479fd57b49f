"""The whole pipeline, below and past its capacity: simulator → ingest → Mosquitto → state
worker → Redis → a Python script on `discord-state/…`, beside the broker's own
publish→subscribe rate for the same message size, in the same run.

    python sdk-python/bench/bench_pipeline.py [--shards N] [--seconds S] [--csv PATH] [--bin PATH]

Every process is real and separate: `ddiscord sim`, `ddiscord ingest`, `ddiscord state-worker`
(the release binary; `scripts/bench python` builds it), a private Mosquitto and a private Redis.

What is timed, on both sides of the ratio:
- pipeline: events per second reaching this script's `async for` loop on the state tree (each
  one applied to Redis, then republished), over a window of `--seconds` in steady state, while
  the simulator offers a fixed rate. The simulator sends dispatches it generated before the run
  (`--pregenerate`), so producing the load costs it little CPU; with `--shed-when-behind` it
  generates nothing for a shard whose connection is a whole resume buffer (10,000 dispatches)
  behind, so the pipeline can be held past its capacity: the offered rate it could not take is
  reported as shed, and the queue before ingest stays bounded. Ingest runs with
  `DDISCORD_MAX_CACHE_LAG=10000`, so it reads at most 10,000 dispatches per shard ahead of the
  cache and the broker's queue stays bounded too.
- baseline: `mosquitto_pub -l` → `mosquitto_sub` through the same broker at QoS 1 (the
  pipeline's durable hops use QoS 1), messages of the mean envelope size seen in the run,
  messages per second from the first publish to the last message received.
Each event crosses the broker twice in the pipeline (the dispatch, then the state tree), so
the ceiling of the ratio is about 0.5.

Latency is from ingest's read of the frame (`received_ms` in the envelope) to the loop; time a
dispatch waits in the simulator before ingest reads it (past capacity) is not in it.

Rounds, on one running pipeline (the rate is changed through the simulator's control API):
1. ramp: the offered rate grows by half each round until p99 passes 100 ms or the delivered
   rate falls under 90% of the offered one; the capacity is the highest delivered rate of a
   round with p99 ≤ 100 ms, or the delivered rate of the first round past capacity;
2. load curve: 10%, 25%, 50%, 75%, 100%, 125% and 150% of that capacity, written to `--csv`
   (offered_per_s, delivered_per_s, p50_ms, p99_ms, shed_per_s, worker_rss_mb, ingest_rss_mb);
3. the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import ddiscord  # noqa: E402
from servers import Mosquitto, Redis, find_binary, free_port  # noqa: E402

CAPACITY_P99_MS = 100.0


def default_bin() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ddiscord/target"))
    return target / "release" / "ddiscord"


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Pipeline:
    """`ddiscord sim`, `state-worker` and `ingest` as child processes."""

    def __init__(self, binary: Path, mosquitto: Mosquitto, redis: Redis, shards: int, workdir: Path) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        sim_port = free_port()
        self.control = f"http://127.0.0.1:{sim_port}/control"
        env = {
            **os.environ,
            "DDISCORD_LOG": "warn",
            "DDISCORD_MESH_URL": mosquitto.url,
            "DDISCORD_REDIS_URL": redis.url,
            "DDISCORD_SHARDS": str(shards),
            "DISCORD_TOKEN": "sim-token",
            "DDISCORD_GATEWAY_URL": f"ws://127.0.0.1:{sim_port}",
            "DDISCORD_IDENTIFY_RESERVE": "0",
            # Ingest reads at most this far ahead of the cache: past capacity the backlog waits
            # in the simulator (shed there), not in the broker's queue.
            "DDISCORD_MAX_CACHE_LAG": "10000",
        }
        log = open(workdir / "pipeline.log", "ab")
        self.start("sim", binary, ["sim", "--bind", f"127.0.0.1:{sim_port}", "--shards", str(shards),
                                   "--guilds", "20", "--events-per-sec", "0", "--max-concurrency", str(shards),
                                   "--record-limit", "0", "--pregenerate", "200000", "--shed-when-behind"], env, log)
        self.start("state-worker", binary, ["state-worker", "--http-addr", f"127.0.0.1:{free_port()}"], env, log)
        self.start("ingest", binary, ["ingest", "--http-addr", f"127.0.0.1:{free_port()}"], env, log)

    def start(self, name: str, binary: Path, args: list[str], env: dict[str, str], log: object) -> None:
        self.procs[name] = subprocess.Popen([str(binary), *args], env=env, stdout=log, stderr=log)  # type: ignore[arg-type]

    def set_rate(self, rate: float) -> None:
        req = urllib.request.Request(f"{self.control}/rate?events_per_sec={rate:.0f}", method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def stats(self) -> dict:
        return json.loads(urllib.request.urlopen(f"{self.control}/stats", timeout=5).read())

    def wait_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the simulator did not come up")

    def stop(self) -> None:
        for p in reversed(list(self.procs.values())):
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


class Counter:
    """Counts what reaches the loop; a round swaps its window out."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self.latencies: list[float] = []
        self.last_arrival = time.monotonic()

    def take(self) -> tuple[int, int, list[float]]:
        out = (self.count, self.bytes, self.latencies)
        self.count, self.bytes, self.latencies = 0, 0, []
        return out


async def consume(sub: object, counter: Counter) -> None:
    async for event in sub:  # type: ignore[attr-defined]
        counter.count += 1
        counter.bytes += len(event.raw)
        counter.last_arrival = time.monotonic()
        if event.received_ms:
            counter.latencies.append(time.time() * 1000 - event.received_ms)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def quiet(counter: Counter, seconds: float, limit: float) -> None:
    """Waits until nothing has arrived for `seconds` (the backlog drained), at most `limit` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and time.monotonic() - counter.last_arrival < seconds:
        await asyncio.sleep(0.1)


async def round_at(pipeline: Pipeline, counter: Counter, rate: float, settle: float, seconds: float) -> dict:
    pipeline.set_rate(rate)
    await asyncio.sleep(settle)
    before = pipeline.stats()
    counter.take()
    started = time.monotonic()
    await asyncio.sleep(seconds)
    count, size, lat = counter.take()
    elapsed = time.monotonic() - started
    after = pipeline.stats()
    pipeline.set_rate(0)
    row = {
        "offered_per_s": rate,
        "delivered_per_s": count / elapsed,
        "p50_ms": pct(lat, 50),
        "p99_ms": pct(lat, 99),
        "shed_per_s": (after["shed"] - before["shed"]) / elapsed,
        "worker_rss_mb": rss_mb(pipeline.procs["state-worker"].pid),
        "ingest_rss_mb": rss_mb(pipeline.procs["ingest"].pid),
        "mean_bytes": size / max(count, 1),
    }
    print(f"  offered {rate:>8.0f} ev/s  delivered {row['delivered_per_s']:>8.0f} ev/s  "
          f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  shed {row['shed_per_s']:>7.0f}/s  "
          f"RSS worker {row['worker_rss_mb']:.0f} MB, ingest {row['ingest_rss_mb']:.0f} MB", flush=True)
    await quiet(counter, 1.0, 30.0)
    return row


def broker_baseline(mosquitto: Mosquitto, size: int, messages: int) -> float:
    """Messages/s from `mosquitto_pub -l` to `mosquitto_sub` at QoS 1, first publish to last message."""
    pub = find_binary("mosquitto_pub", "DDISCORD_MOSQUITTO_PUB")
    sub_bin = find_binary("mosquitto_sub", "DDISCORD_MOSQUITTO_SUB")
    port = str(mosquitto.port)
    sub = subprocess.Popen([sub_bin, "-p", port, "-q", "1", "-t", "baseline/#", "-C", str(messages)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    line = b"x" * max(size - 1, 1) + b"\n"
    started = time.monotonic()
    subprocess.run([pub, "-p", port, "-q", "1", "-t", "baseline/x", "-l"], input=line * messages, check=True)
    sub.wait(120)
    return messages / (time.monotonic() - started)


async def run(args: argparse.Namespace, mosquitto: Mosquitto, redis: Redis, workdir: Path) -> tuple[float, float, list[dict]]:
    pipeline = Pipeline(args.bin, mosquitto, redis, args.shards, workdir)
    try:
        pipeline.wait_up()
        async with ddiscord.connect(mesh_url=mosquitto.url, redis_url=redis.url) as client:
            sub = await client.subscribe_state("discord/>")
            counter = Counter()
            task = asyncio.ensure_future(consume(sub, counter))
            # Until the shards are READY and their GUILD_CREATEs applied.
            pipeline.set_rate(100)
            deadline = time.monotonic() + 60
            while counter.count < 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            pipeline.set_rate(0)
            await quiet(counter, 1.0, 30.0)

            print("ramp (until p99 passes 100 ms or delivery falls under 90% of the offer):")
            rate, capacity, mean = args.start, 0.0, 0.0
            while True:
                row = await round_at(pipeline, counter, rate, 2.0, args.seconds)
                mean = max(mean, row["mean_bytes"])
                past = row["p99_ms"] > CAPACITY_P99_MS or row["delivered_per_s"] < 0.9 * rate
                if not past:
                    capacity = max(capacity, row["delivered_per_s"])
                elif capacity == 0.0:
                    capacity = row["delivered_per_s"]
                if past or rate > args.max_rate:
                    break
                rate *= 1.5
            print(f"capacity: {capacity:.0f} ev/s")

            print("load curve (share of capacity):")
            rows = []
            for share in (0.10, 0.25, 0.50, 0.75, 1.00, 1.25, 1.50):
                row = await round_at(pipeline, counter, capacity * share, 2.0, args.seconds)
                row["share"] = share
                rows.append(row)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        return capacity, mean, rows
    finally:
        pipeline.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--start", type=float, default=2000.0, help="events/s offered in the first ramp round")
    parser.add_argument("--max-rate", type=float, default=200_000.0, help="the ramp stops above this")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per round")
    parser.add_argument("--csv", type=Path, help="write the load curve here")
    parser.add_argument("--bin", type=Path, default=default_bin(), help="the ddiscord binary")
    args = parser.parse_args()
    if not args.bin.exists():
        sys.exit(f"{args.bin} not found: build it with `cargo build --release -p ddiscord-cli`")

    print(f"pipeline: sim ({args.shards} shards, pre-generated traffic) → ingest → Mosquitto → state worker "
          f"→ Redis → Python, {args.seconds:.0f} s per round")
    with tempfile.TemporaryDirectory() as d:
        mosquitto, redis = Mosquitto(), Redis()
        try:
            capacity, mean, rows = asyncio.run(run(args, mosquitto, redis, Path(d)))
            baseline = broker_baseline(mosquitto, int(mean), 50_000)
        finally:
            mosquitto.close()
            redis.close()
    half = next(r for r in rows if r["share"] == 0.50)
    over = next(r for r in rows if r["share"] == 1.50)
    print(f"baseline: mosquitto_pub → mosquitto_sub, QoS 1, {int(mean)} B: {baseline:.0f} msg/s")
    print(f"ratio: pipeline capacity / broker pub→sub = {capacity / baseline:.3f} "
          f"(each event crosses the broker twice: dispatch and state tree)")
    print(f"at 50% of capacity ({half['offered_per_s']:.0f} ev/s): p99 {half['p99_ms']:.1f} ms; "
          f"at 150%: delivered {over['delivered_per_s'] / capacity:.2f}x capacity, p99 {over['p99_ms']:.1f} ms")
    if args.csv:
        fields = ["offered_per_s", "delivered_per_s", "p50_ms", "p99_ms", "shed_per_s", "worker_rss_mb", "ingest_rss_mb"]
        lines = [",".join(fields)] + [",".join(f"{r[f]:.1f}" for f in fields) for r in rows]
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
