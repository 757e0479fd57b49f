#!/usr/bin/env bash
# Python SDK: builds ddiscord-sdk into a reused virtualenv, checks its stubs against the native
# module (mypy stubtest) and runs pytest against private Redis and Mosquitto servers (started by
# `ddiscord dev services`). The abi3 wheel is also installed on a second CPython, 3.13, which
# scripts/cpython.sh builds once from Debian's source (tests/test_install.py).
#
# The virtualenv lives in ${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord/venv-py; the native module is
# built with the shared $CARGO_TARGET_DIR so repeated runs are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

python_env

step "stubtest: stubs against the native module"
(cd sdk-python && python -m mypy.stubtest ddiscord --allowlist stubtest-allowlist.txt)
(cd sdk-python && python -m mypy python/ddiscord)

step "pip install ./sdk-python into a fresh virtualenv"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
python3 -m venv "$fresh/venv"
"$fresh/venv/bin/python" -m pip install -q --disable-pip-version-check ./sdk-python
"$fresh/venv/bin/python" -c 'import ddiscord; print("imported ddiscord", ddiscord.__version__)'

step "the ddiscord binary the tests run (dev services, project, state-worker, up)"
cargo build -q -p ddiscord-cli
# The private Redis and Mosquitto servers come from `ddiscord dev services` of this copy, which
# no later build into the shared target directory replaces while the tests run.
cp "$CARGO_TARGET_DIR/debug/ddiscord" "$fresh/ddiscord"
export DDISCORD_BINARY="$fresh/ddiscord"

step "a second CPython for the abi3 wheel (scripts/cpython.sh 3.13: built once, then reused)"
if second="$(bash scripts/cpython.sh 3.13)"; then
  export DDISCORD_SECOND_PYTHON="$second"
  "$second" --version
else
  status=$?
  # 3: the source cannot be fetched; the test says so when it skips.
  ((status == 3)) || exit "$status"
fi

step "pytest"
(cd sdk-python && python -m pytest -q)
