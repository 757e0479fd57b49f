#!/usr/bin/env bash
# Python SDK benchmarks, each beside what a Python user would use instead, in the same run:
# event delivery (paho-mqtt), cache reads (redis-py + json.loads), and the whole pipeline
# (simulator → ingest → Mosquitto → state worker → Redis → Python) beside the broker's own
# publish→subscribe rate.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_services
python_env
step "building the ddiscord binary (release)"
cargo build --release --locked -q -p ddiscord-cli
step "events into an async for loop, beside paho-mqtt"
python sdk-python/bench/bench_subscribe.py
step "cache reads, beside redis-py + json.loads"
python sdk-python/bench/bench_cache.py
step "the pipeline, beside mosquitto_pub → mosquitto_sub"
python sdk-python/bench/bench_pipeline.py
