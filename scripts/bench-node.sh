#!/usr/bin/env bash
# Node SDK benchmarks: events into a `for await` loop beside mqtt.js, cache reads beside
# ioredis + JSON.parse, in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_services
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddiscord/target}"
cd sdk-node
step "npm install (builds the native addon)"
npm install --no-audit --no-fund
step "node benchmarks"
npm run bench
