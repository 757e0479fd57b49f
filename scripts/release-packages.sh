#!/usr/bin/env bash
# Builds the packages a release publishes into dist/ (ignored by git), checks them, and with
# --publish uploads them.
#
#   dist/python/  the abi3 wheel of this platform (`maturin build --profile dist`: one wheel for
#                 CPython 3.9 and newer) and the sdist (`maturin sdist`)
#   dist/npm/     napi-rs' layout: one package per platform, ddiscord-<platform>-<version>.tgz
#                 (sdk-node/npm/<platform>/package.json and ddiscord.<platform>.node), and the main
#                 package ddiscord-<version>.tgz, which carries no addon and lists every platform
#                 package as an optionalDependency of the same version (what `napi prepublish`
#                 does to package.json), so npm installs the one for the user's platform
#
#   scripts/release-packages.sh --dry-run
#       build, `twine check --strict` the Python files, `npm publish --dry-run` each npm package;
#       uploads nothing. Platforms whose addon is not at hand are named and left out.
#   scripts/release-packages.sh --publish [--addons DIR] [--wheels DIR]
#       the same, then `twine upload` (credentials: TWINE_USERNAME/TWINE_PASSWORD or ~/.pypirc)
#       and `npm publish` (an npm login or a token in ~/.npmrc), the platform packages before the
#       main one. This machine builds its own platform's addon and wheel; the other platforms'
#       come from DIR (ddiscord.<platform>.node from `node build-native.js --rebuild`, wheels from
#       `maturin build --profile dist`, each run on its platform). Every platform of sdk-node/npm/
#       needs its addon, or nothing is uploaded.
#
# DIST=<folder> puts the packages elsewhere (the tests use a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
repo="$PWD"

mode=""
addons_from=""
wheels_from=""
while (($#)); do
  case "$1" in
    --dry-run) mode=dry-run ;;
    --publish) mode=publish ;;
    --addons) addons_from="$(realpath "$2")"; shift ;;
    --wheels) wheels_from="$(realpath "$2")"; shift ;;
    *) mode=""; break ;;
  esac
  shift
done
if [[ -z "$mode" ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
dist="$(realpath -m "${DIST:-$repo/dist}")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddiscord/target}"

# The release tools, in their own virtualenv reused between runs.
tools="${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord/venv-release"
if [[ ! -x "$tools/bin/python" ]]; then
  if ! have python3 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    step "installing python3 and python3-venv"
    apt_install python3 python3-venv
  fi
  step "creating $tools"
  python3 -m venv "$tools"
fi
step "release tools (maturin, twine)"
"$tools/bin/python" -m pip install -q --disable-pip-version-check --upgrade 'maturin>=1.9,<2' 'twine>=6'
if ! have node || ! have npm; then
  step "installing nodejs and npm"
  apt_install nodejs npm
fi

rm -rf "$dist/python" "$dist/npm"
mkdir -p "$dist/python" "$dist/npm"

step "Python: the abi3 wheel (maturin build --profile dist) and the sdist"
(cd sdk-python && "$tools/bin/maturin" build --locked --profile dist --out "$dist/python")
(cd sdk-python && "$tools/bin/maturin" sdist --out "$dist/python")
if [[ -n "$wheels_from" ]]; then
  cp -v "$wheels_from"/ddiscord_sdk-*.whl "$dist/python/"
fi
step "twine check --strict"
"$tools/bin/twine" check --strict "$dist"/python/*

step "Node: this platform's addon (cargo, profile dist)"
node sdk-node/build-native.js --rebuild
version="$(node -p 'require("./sdk-node/package.json").version')"
platforms=()
missing=()
for dir in sdk-node/npm/*/; do
  platform="$(basename "$dir")"
  addon="ddiscord.$platform.node"
  found=""
  if [[ -n "$addons_from" && -e "$addons_from/$addon" ]]; then
    found="$addons_from/$addon"
  elif [[ -e "sdk-node/$addon" ]]; then
    found="sdk-node/$addon"
  fi
  if [[ -z "$found" ]]; then
    missing+=("$platform")
    continue
  fi
  step "npm package ddiscord-$platform"
  mkdir "$dist/npm/$platform"
  cp "$dir/package.json" "$dir/README.md" "$dist/npm/$platform/"
  cp "$found" "$dist/npm/$platform/$addon"
  (cd "$dist/npm/$platform" && npm pack --pack-destination "$dist/npm" >/dev/null)
  platforms+=("$platform")
done

step "npm package ddiscord: no addon, the platform packages as optionalDependencies"
mkdir "$dist/npm/ddiscord"
node - "$repo/sdk-node" "$dist/npm/ddiscord" <<'EOF'
const fs = require('node:fs')
const path = require('node:path')
const [from, to] = process.argv.slice(2)
const manifest = JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8'))
// No addon and no install step: npm installs this platform's package, and the loader (native.js)
// says which one it looked for when it is missing; no install script for npm 11 to hold back.
manifest.files = manifest.files.filter((f) => !f.endsWith('.node') && f !== 'build-native.js')
for (const f of [...manifest.files, 'README.md']) fs.copyFileSync(path.join(from, f), path.join(to, f))
manifest.optionalDependencies = {}
for (const platform of fs.readdirSync(path.join(from, 'npm')).sort()) {
  const name = JSON.parse(fs.readFileSync(path.join(from, 'npm', platform, 'package.json'), 'utf8')).name
  manifest.optionalDependencies[name] = manifest.version
}
delete manifest.scripts
delete manifest.devDependencies
fs.writeFileSync(path.join(to, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
EOF
(cd "$dist/npm/ddiscord" && npm pack --pack-destination "$dist/npm" >/dev/null)

if ((${#missing[@]})); then
  if [[ "$mode" == publish ]]; then
    echo "no addon for ${missing[*]}: build it there (node sdk-node/build-native.js --rebuild) and pass its folder with --addons; nothing uploaded" >&2
    exit 1
  fi
  echo "note: no addon for ${missing[*]} here (built on that platform, it comes in with --addons DIR); left out of this dry run" >&2
fi

step "npm publish --dry-run: the platform packages, then the main one"
tarballs=()
for platform in "${platforms[@]}"; do tarballs+=("$dist/npm/ddiscord-$platform-$version.tgz"); done
tarballs+=("$dist/npm/ddiscord-$version.tgz")
for tarball in "${tarballs[@]}"; do
  npm publish --dry-run --access public "$tarball"
done

if [[ "$mode" == publish ]]; then
  step "twine upload"
  "$tools/bin/twine" upload "$dist"/python/*
  step "npm publish: the platform packages, then the main one"
  for tarball in "${tarballs[@]}"; do
    npm publish --access public "$tarball"
  done
fi

step "$mode done; the packages are in $dist:"
(cd "$dist" && ls -l python/* npm/*.tgz)
