#!/usr/bin/env bash
# The release, short of uploading: `scripts/release-packages.sh --dry-run` into a temporary folder
# (twine check, npm publish --dry-run), then checks what it packed and installs the npm packages
# as the registry would hand them out, into an application folder with no cargo on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddiscord/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
DIST="$work/dist" bash scripts/release-packages.sh --dry-run

fail() {
  echo "release packages: $*" >&2
  exit 1
}

step "the packages the dry run made"
version="$(node -p 'require("./sdk-node/package.json").version')"
wheels=("$work"/dist/python/ddiscord_sdk-"$version"-cp39-abi3-*.whl)
[[ -e "${wheels[0]}" && ${#wheels[@]} == 1 ]] || fail "not one abi3 wheel in dist/python: $(ls "$work/dist/python")"
[[ -e "$work/dist/python/ddiscord_sdk-$version.tar.gz" ]] || fail "no sdist in dist/python"
addon="$(basename "$(ls sdk-node/ddiscord.*.node)")"
platform="${addon#ddiscord.}"
platform="${platform%.node}"
platform_tgz="$work/dist/npm/ddiscord-$platform-$version.tgz"
main_tgz="$work/dist/npm/ddiscord-$version.tgz"
platform_files="$(tar -tzf "$platform_tgz")"
main_files="$(tar -tzf "$main_tgz")"
grep -qx "package/$addon" <<<"$platform_files" || fail "$platform_tgz lacks $addon"
! grep -q '\.node$' <<<"$main_files" || fail "the main package carries an addon: $main_files"
tar -xzf "$main_tgz" -O package/package.json | node -e '
  const m = JSON.parse(require("fs").readFileSync(0, "utf8"))
  const want = require("fs").readdirSync("sdk-node/npm").map((p) => `ddiscord-${p}`).sort()
  const got = Object.keys(m.optionalDependencies || {}).sort()
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`optionalDependencies ${got}, want ${want}`)
  if (Object.values(m.optionalDependencies).some((v) => v !== m.version)) throw new Error("platform versions differ")
  if (m.devDependencies || m.scripts) throw new Error("devDependencies or scripts in the published package")
  console.log(`ddiscord ${m.version}: optionalDependencies ${got.join(", ")}`)'
ls -l "$work"/dist/python/* "$work"/dist/npm/*.tgz

step "npm install <platform package> <main package> into an application folder, no cargo on PATH"
app="$work/app"
mkdir "$app"
printf '{"name":"app","version":"1.0.0","private":true}\n' >"$app/package.json"
(
  cd "$app"
  PATH="$(dirname "$(command -v node)"):/usr/bin:/bin" \
    npm install --no-audit --no-fund --foreground-scripts "$platform_tgz" "$main_tgz" >/dev/null
  node -e 'const d = require("ddiscord"); if (typeof d.connect !== "function") throw new Error("no connect")
    console.log("required ddiscord from", require.resolve("ddiscord-'"$platform"'"))'
)
step "the release dry run and its packages are as they should be"
