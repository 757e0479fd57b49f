#!/usr/bin/env bash
# Node package tests: installs sdk-node/ (which builds the native addon with napi-rs into the
# shared cargo target directory), checks that the committed native.d.ts is what napi-rs generates,
# type-checks the typed example against index.d.ts, and runs `node --test` against private Redis
# and Mosquitto servers (started by `ddiscord dev services`).
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
step "npm ci (the locked devDependencies; the install step builds the native addon with cargo)"
npm ci --no-audit --no-fund
step "native.d.ts and native.js are what napi-rs generates from the Rust sources"
node check-native-dts.js
step "the ddiscord binary the tests run (dev services, project, state-worker, up)"
cargo build --quiet -p ddiscord-cli
# The private Redis and Mosquitto servers come from `ddiscord dev services` of this copy, which
# no later build into the shared target directory replaces while the tests run.
bin_dir="$(mktemp -d)"
trap 'rm -rf "$bin_dir"' EXIT
cp "$CARGO_TARGET_DIR/debug/ddiscord" "$bin_dir/ddiscord"
export DDISCORD_BINARY="$bin_dir/ddiscord"
step "tsc --noEmit on the typed example"
npx tsc --noEmit -p tsconfig.json
step "node --test"
npm test
