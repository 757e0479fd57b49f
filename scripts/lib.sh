# Shared helpers for the project's scripts: install what is missing from Debian's packages.
step() { printf '\n==> %s\n' "$*"; }

apt_updated=false
apt_install() {
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
    echo "missing packages: $*; install them (apt-get install $*) and run again" >&2
    exit 1
  fi
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  if ! $apt_updated; then
    $sudo apt-get update -qq
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust 1.89 or newer (https://rustup.rs) and run again" >&2
    exit 1
  fi
}

# Redis and Mosquitto binaries; tests start private instances on free ports.
ensure_services() {
  local missing=()
  have redis-server || missing+=(redis-server)
  have redis-cli || missing+=(redis-tools)
  have redis-benchmark || missing+=(redis-tools)
  have mosquitto || missing+=(mosquitto)
  have mosquitto_sub || missing+=(mosquitto-clients)
  if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}
