#!/usr/bin/env bash
# Times each install route, cold (an empty cargo target directory and empty pip and npm caches;
# crates already downloaded into ~/.cargo are reused) and warm (the same route again into a fresh
# virtualenv or application folder, with the caches the cold run filled), and measures what users
# get: the wheel, the Node addon and the `ddiscord` binary.
#
#   scripts/bench-install.sh [ROUTE...]
#
# Routes (all by default, in this order):
#   cargo          cargo install --locked --path cli
#   pip-checkout   pip install <checkout>/sdk-python
#   pip-sdist      maturin sdist, then pip install <sdist>
#   wheel          maturin build --profile dist, then pip install <wheel>
#   npm-checkout   npm install <checkout>/sdk-node, npm install-scripts approve, npm rebuild
#   npm-packages   npm install <tarball from npm pack> and npm install <platform package>
#                  <main package> (no cargo on PATH), the packages made by
#                  scripts/release-packages.sh --dry-run with the usual target directory
#
# Each route works in a fresh folder ${BENCH_DIR:-/tmp}/install-ROUTE.* that it removes at the end (a cold
# cargo target directory takes several GB). Every figure is printed and appended, tab-separated,
# to ${BENCH_OUT:-/tmp/ddiscord-install-bench.tsv} with the commit and the load average.
# The routes build from this checkout; sdk-node/ gets the built addon (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
repo="$PWD"
out="${BENCH_OUT:-/tmp/ddiscord-install-bench.tsv}"
commit="$(git rev-parse --short=12 HEAD 2>/dev/null || echo "${DDISCORD_GIT_COMMIT:-unknown}")"
python="${PYTHON:-python3}"

routes=("$@")
((${#routes[@]})) || routes=(cargo pip-checkout pip-sdist wheel npm-checkout npm-packages)

record() { # what value unit
  local line
  line="$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$(date -u +%FT%TZ)" "$commit" "$1" "$2" "$3" "load $(cut -d' ' -f1-3 /proc/loadavg)")"
  printf '%s\n' "$line" >>"$out"
  printf '  %-44s %12s %s\n' "$1" "$2" "$3"
}

# timed WHAT CMD...: runs CMD (output to the route's log) and records its wall time and the CPU
# time (user + system) of it and its children, in seconds: on a shared machine the CPU time is
# the steadier figure.
timed() {
  local what="$1" times
  shift
  times="$(mktemp)"
  if ! /usr/bin/time -f '%e %U %S' -o "$times" "$@" >>"$log" 2>&1; then
    cat "$times" >>"$log"
    echo "failed: $* (see $log)" >&2
    exit 1
  fi
  read -r wall user sys <"$times"
  rm -f "$times"
  record "$what" "$wall" "s wall, $(echo "$user + $sys" | bc -l | xargs printf '%.1f') s CPU"
}

size() { record "$1" "$(stat -c %s "$2")" bytes; }

fresh_venv() { # DIR: a virtualenv (not timed)
  "$python" -m venv "$1" >>"$log" 2>&1
  "$1/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >>"$log" 2>&1 || true
}

app() { # DIR: an application folder
  mkdir -p "$1"
  printf '{"name":"app","version":"1.0.0","private":true}\n' >"$1/package.json"
}

have bc || apt_install bc
[[ -x /usr/bin/time ]] || apt_install time
build_target="${CARGO_TARGET_DIR:-$HOME/.cache/ddiscord/target}"
mkdir -p "$(dirname "$out")"

for route in "${routes[@]}"; do
  work="$(mktemp -d "${BENCH_DIR:-/tmp}/install-$route.XXXXXX")"
  log="$work.log"
  : >"$log"
  step "$route (work folder $work, log $log)"
  export CARGO_TARGET_DIR="$work/target" PIP_CACHE_DIR="$work/pip-cache" npm_config_cache="$work/npm-cache"
  pip_q=(-m pip install --disable-pip-version-check --no-input)
  case "$route" in
    cargo)
      timed "cargo install (cold)" cargo install --locked --path cli --root "$work/root"
      timed "cargo install (warm)" cargo install --locked --force --path cli --root "$work/root"
      size "ddiscord binary (release)" "$work/root/bin/ddiscord"
      ;;
    pip-checkout)
      fresh_venv "$work/cold"
      timed "pip install <checkout>/sdk-python (cold)" "$work/cold/bin/python" "${pip_q[@]}" "$repo/sdk-python"
      fresh_venv "$work/warm"
      timed "pip install <checkout>/sdk-python (warm)" "$work/warm/bin/python" "${pip_q[@]}" "$repo/sdk-python"
      ;;
    pip-sdist | wheel)
      fresh_venv "$work/tools"
      "$work/tools/bin/python" "${pip_q[@]}" -q 'maturin>=1.9,<2' >>"$log" 2>&1
      if [[ $route == pip-sdist ]]; then
        timed "maturin sdist" "$work/tools/bin/maturin" sdist -m "$repo/sdk-python/pyproject.toml" --out "$work/dist"
        artifact="$(ls "$work"/dist/*.tar.gz)"
        size "sdist" "$artifact"
        what="pip install <sdist>"
      else
        (cd "$repo/sdk-python" && timed "maturin build --profile dist (cold)" "$work/tools/bin/maturin" build --profile dist --out "$work/dist")
        rm -rf "$work/dist"
        (cd "$repo/sdk-python" && timed "maturin build --profile dist (warm)" "$work/tools/bin/maturin" build --profile dist --out "$work/dist")
        artifact="$(ls "$work"/dist/*.whl)"
        size "wheel" "$artifact"
        record "native module in the wheel (uncompressed)" "$("$python" -c 'import sys, zipfile
print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist() if i.filename.endswith(".so")))' "$artifact")" bytes
        what="pip install <wheel>"
      fi
      fresh_venv "$work/cold"
      timed "$what (cold)" "$work/cold/bin/python" "${pip_q[@]}" "$artifact"
      fresh_venv "$work/warm"
      timed "$what (warm)" "$work/warm/bin/python" "${pip_q[@]}" "$artifact"
      ;;
    npm-checkout)
      for pass in cold warm; do
        app "$work/$pass"
        # npm 11 runs the package's install script only once the application approves it.
        # (the commands test/install.test.js runs).
        timed "npm install <checkout>/sdk-node + approve + rebuild ($pass)" bash -c '
          set -e
          cd "$1"
          out="$(npm install --no-audit --no-fund --foreground-scripts "$2" 2>&1)"
          printf "%s\n" "$out"
          if ! grep -q "built the native addon" <<<"$out"; then
            npm install-scripts approve ddiscord
            npm rebuild --foreground-scripts ddiscord
          fi' _ "$work/$pass" "$repo/sdk-node"
      done
      addon="$(ls "$repo"/sdk-node/ddiscord.*.node)"
      size "Node addon ($(basename "$addon"))" "$addon"
      ;;
    npm-packages)
      # The packages: built (not timed) with the usual target directory by the release script,
      # and `npm pack` in sdk-node/ after that build, the tarball that carries the addon.
      CARGO_TARGET_DIR="$build_target" DIST="$work/dist" bash scripts/release-packages.sh --dry-run >>"$log" 2>&1
      version="$(node -p 'require("./sdk-node/package.json").version')"
      (cd sdk-node && npm pack --pack-destination "$work" >>"$log" 2>&1)
      tarball="$work/ddiscord-$version.tgz"
      size "npm pack tarball, addon inside" "$tarball"
      no_cargo="$(dirname "$(command -v node)"):/usr/bin:/bin"
      for pass in cold warm; do
        app "$work/tarball-$pass"
        timed "npm install <tarball> ($pass)" env PATH="$no_cargo" bash -c \
          'cd "$1" && npm install --no-audit --no-fund "$2"' _ "$work/tarball-$pass" "$tarball"
      done
      platform="$(ls "$work"/dist/npm/ddiscord-linux-*-"$version".tgz | head -1)"
      main="$work/dist/npm/ddiscord-$version.tgz"
      size "npm platform package ($(basename "$platform"))" "$platform"
      size "npm main package (no addon)" "$main"
      for pass in cold warm; do
        app "$work/platform-$pass"
        timed "npm install <platform package> <main package> ($pass)" env PATH="$no_cargo" bash -c \
          'cd "$1" && npm install --no-audit --no-fund "$2" "$3"' _ "$work/platform-$pass" "$platform" "$main"
      done
      ;;
    *)
      echo "unknown route: $route" >&2
      exit 2
      ;;
  esac
  rm -rf "$work"
done
