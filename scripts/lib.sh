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
  # kubectl kustomize: the pipeline tests run the Deployments of the rendered overlays.
  have kubectl || missing+=(kubernetes-client)
  if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# A virtualenv with the Python SDK built into it (maturin develop), reused between runs under
# ${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord/venv-py; activates it for the caller.
python_env() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddiscord/target}"
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord/venv-py"
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
  step "building ddiscord-sdk (maturin develop, profile dist: release without debug info)"
  (cd sdk-python && maturin develop --quiet)
}
