#!/usr/bin/env bash
# Python SDK: builds ddiscord-sdk into a reused virtualenv, checks its stubs against the native
# module (mypy stubtest) and runs pytest against private Redis and Mosquitto servers.
#
# The virtualenv lives in ${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord/venv-py; the native module is
# built with the shared $CARGO_TARGET_DIR so repeated runs are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddiscord/target}"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord/venv-py"

if ! have python3; then
  step "installing python3"
  apt_install python3 python3-venv
fi
if [[ ! -x "$venv/bin/python" ]]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    step "installing python3-venv"
    apt_install python3-venv
  fi
  step "creating $venv"
  python3 -m venv "$venv"
fi
export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH"

step "Python tools (maturin, pytest, mypy, paho-mqtt, redis)"
python -m pip install -q --disable-pip-version-check --upgrade \
  'maturin>=1.9,<2' 'pytest>=8' 'pytest-asyncio>=0.24' 'mypy>=1.10' 'paho-mqtt>=2' 'redis>=5'

step "building ddiscord-sdk (maturin develop --release)"
(cd sdk-python && maturin develop --release --quiet)

step "stubtest: stubs against the native module"
(cd sdk-python && python -m mypy.stubtest ddiscord --allowlist stubtest-allowlist.txt)
(cd sdk-python && python -m mypy python/ddiscord)

step "pip install ./sdk-python into a fresh virtualenv"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
python3 -m venv "$fresh/venv"
"$fresh/venv/bin/python" -m pip install -q --disable-pip-version-check ./sdk-python
"$fresh/venv/bin/python" -c 'import ddiscord; print("imported ddiscord", ddiscord.__version__)'

step "test helpers (state projection, state worker)"
cargo build -q -p ddiscord-python --example project_envelopes --example state_worker

step "pytest"
(cd sdk-python && python -m pytest -q)
