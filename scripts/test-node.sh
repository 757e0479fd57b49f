#!/usr/bin/env bash
# Node package tests: installs sdk-node/ (which builds the native addon with napi-rs into the
# shared cargo target directory), checks that the committed native.d.ts is what napi-rs generates,
# type-checks the typed example against index.d.ts, and runs
# `node --test` against private Redis and Mosquitto servers.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

if ! have node || ! have npm; then
  step "installing nodejs and npm"
  apt_install nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if ((major < 20)); then
  echo "Node $(node --version) is too old: the package needs Node 20 or newer" >&2
  exit 1
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddiscord/target}"
cd sdk-node
step "npm install (builds the native addon)"
# `npm install` rather than `npm ci`: npm's lockfile omits the other platforms' optional
# packages of @napi-rs/cli's dependencies, which `npm ci` then refuses.
npm install --no-audit --no-fund
step "native.d.ts and native.js are what napi-rs generates from the Rust sources"
node check-native-dts.js
step "the ddiscord binary the tests run (project, state-worker, up)"
cargo build --quiet -p ddiscord-cli
step "tsc --noEmit on the typed example"
npx tsc --noEmit -p tsconfig.json
step "node --test"
npm test
