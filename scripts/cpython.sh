#!/usr/bin/env bash
# A CPython of another minor version than the system's, for testing the abi3 wheel on it: built
# from the upstream source tarball that Debian's archive carries (the `.orig.tar.xz` of source
# package pythonX.Y, fetched with `apt-get source` against the Debian release that has that
# version, through a private apt state: nothing in /etc/apt changes) into
# ${XDG_CACHE_HOME:-~/.cache}/ddiscord/cpython-X.Y, and reused from there.
#
#   scripts/cpython.sh [X.Y]     (default 3.13) prints the interpreter's path on stdout
#
# Progress goes to stderr. Exit status: 0 with the path; 3 when the source cannot be fetched
# (no Debian release in reach carries it, or the archive cannot be reached), with the reason on
# stderr; anything else is a failure (a build that broke). The first build takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
exec 3>&1 1>&2 # stdout is for the path alone

version="${1:-3.13}"
[[ "$version" =~ ^3\.[0-9]+$ ]] || { echo "usage: scripts/cpython.sh [3.N]" >&2; exit 2; }
# Debian releases whose source packages carry a CPython we can build here, newest first.
suites=(trixie bullseye)

cache="${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord"
prefix="$cache/cpython-$version"
python="$prefix/bin/python$version"

works() { "$1" -c 'import venv, ensurepip, zlib, ssl, ctypes' 2>/dev/null; }

mkdir -p "$cache"
# One build at a time; a second caller waits, then finds it built.
exec 9>"$cache/cpython-$version.lock"
flock 9

if [[ -x "$python" ]] && works "$python"; then
  echo "$python" >&3
  exit 0
fi

cant_fetch() {
  echo "cannot fetch CPython $version: $*" >&2
  exit 3
}

have apt-get || cant_fetch "no apt-get (Debian's archive is where the source comes from)"

# A private apt state: the Debian releases' source indexes, kept beside the build.
apt_dir="$cache/apt-src"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -e "$keyring" ]] || cant_fetch "no $keyring (package debian-archive-keyring) to check Debian's archive"
: >"$apt_dir/sources.list"
for suite in "${suites[@]}"; do
  echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian $suite main" >>"$apt_dir/sources.list"
done
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives"
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
step "Debian's source indexes (${suites[*]})"
apt-get "${apt_opts[@]}" -qq update || cant_fetch "apt-get update against Debian's archive failed"
if ! apt-cache "${apt_opts[@]}" showsrc "python$version" 2>/dev/null | grep -q '^Package:'; then
  cant_fetch "no Debian release among ${suites[*]} has source package python$version"
fi

work="$(mktemp -d "$cache/cpython-$version.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
step "apt-get source --download-only python$version"
(cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only "python$version") ||
  cant_fetch "apt-get source python$version failed"
missing=()
for tool in gcc make; do have "$tool" || missing+=("$tool"); done
[[ -e /usr/include/stdio.h ]] || missing+=(libc6-dev)
[[ -e /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
[[ -e /usr/include/openssl/ssl.h ]] || missing+=(libssl-dev)
[[ -e /usr/include/ffi.h ]] || compgen -G "/usr/include/*/ffi.h" >/dev/null || missing+=(libffi-dev)
have xz || missing+=(xz-utils)
if ((${#missing[@]})); then
  step "installing ${missing[*]} (to build CPython $version)"
  apt_install "${missing[@]}" || cant_fetch "installing ${missing[*]} failed"
fi

orig="$(ls "$work"/python"$version"_*.orig.tar.xz)"
step "building CPython from $(basename "$orig") into $prefix"
mkdir "$work/src"
tar -xJf "$orig" -C "$work/src" --strip-components=1
(
  cd "$work/src"
  ./configure --prefix="$prefix" --disable-test-modules --with-ensurepip=install >"$work/configure.log" 2>&1 ||
    { tail -40 "$work/configure.log"; exit 1; }
  make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log"; exit 1; }
  make install DESTDIR="$work/root" >"$work/install.log" 2>&1 || { tail -40 "$work/install.log"; exit 1; }
)
rm -rf "$prefix"
mv "$work/root$prefix" "$prefix"
works "$python" || { echo "the CPython $version built into $prefix lacks venv, ensurepip, zlib, ssl or ctypes" >&2; exit 1; }
"$python" --version
echo "$python" >&3
