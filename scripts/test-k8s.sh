#!/usr/bin/env bash
# Offline checks of the Kubernetes manifests (k8s/), run by scripts/test after the Rust tests:
#
#   1. renders k8s/base and every k8s/overlays/*/ with `kubectl kustomize` (kustomize v5), and with
#      the kustomize v2.0.3 inside Debian's kubectl 1.20 (kubernetes-client) when it can be fetched;
#   2. validates every rendered object against the Kubernetes OpenAPI schemas with
#      `kubernetes-validate --strict` (unknown fields, unknown kinds or API versions are errors);
#   3. checks DDiscord's own rules on the rendered objects (scripts/k8s-policy.py: current HPA/PDB
#      API versions, security context, probes, resources, shutdown settings, no real token);
#   4. starts the broker configuration the Mosquitto pod gets and Redis with the Redis pod's
#      arguments, when `mosquitto` and `redis-server` are installed.
#
# Needs no cluster and no network beyond package registries (apt, PyPI) on a cold machine.
# Environment:
#   KUBECTL            kubectl to render with (default: the one on PATH; installs Debian's if none)
#   K8S_VERSIONS       Kubernetes versions to validate against (default "1.30 1.37")
#   K8S_SKIP_OLD_KUSTOMIZE=1   skip rendering with kubectl 1.20's kustomize v2.0.3
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

start=$SECONDS
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ddiscord"
venv="$cache/venv-k8s"
validate_version="1.37.0"
versions="${K8S_VERSIONS:-1.30 1.37}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
mkdir -p "$cache"

# --- tools ------------------------------------------------------------------------------------
kubectl="${KUBECTL:-}"
if [[ -z "$kubectl" ]]; then
  if ! have kubectl; then
    step "installing kubectl (Debian's kubernetes-client)"
    apt_install kubernetes-client
  fi
  kubectl=kubectl
fi

# kubectl 1.20 (kustomize v2.0.3) in a scratch location, to keep the kustomizations compatible with
# the oldest kubectl still shipped by Debian 12. Skipped, with a note, where apt-get is missing.
old_kubectl="$cache/kubectl-1.20/usr/bin/kubectl"
if [[ "${K8S_SKIP_OLD_KUSTOMIZE:-0}" != 1 && ! -x "$old_kubectl" ]]; then
  if have apt-get && apt-cache show kubernetes-client >/dev/null 2>&1; then
    step "fetching Debian's kubernetes-client (kubectl 1.20) into $cache/kubectl-1.20"
    (
      cd "$out"
      apt-get download -q kubernetes-client >/dev/null 2>&1 &&
        dpkg -x kubernetes-client_*.deb "$cache/kubectl-1.20"
    ) || echo "  could not fetch kubernetes-client: rendering with kustomize v2.0.3 skipped"
  else
    echo "note: Debian's kubernetes-client is not available here (no apt, or run apt-get update):"
    echo "      rendering with kubectl 1.20's kustomize v2.0.3 skipped"
  fi
fi

if [[ ! -x "$venv/bin/kubernetes-validate" ]] ||
  [[ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null)" != *"$validate_version"* ]]; then
  step "installing kubernetes-validate $validate_version into $venv"
  have python3 || apt_install python3
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$validate_version"
fi

# --- render -----------------------------------------------------------------------------------
# kustomize v5 warns that `bases`, `patchesStrategicMerge` and `commonLabels` are deprecated; they
# are kept on purpose (kustomize v2.0.3 knows nothing newer), so only those warnings are hidden.
deprecated='^# Warning: .(bases|patchesStrategicMerge|commonLabels). is deprecated'
render() { # render <kubectl> <dir> <output file>
  if ! "$1" kustomize "$2" >"$3" 2>"$3.err"; then
    cat "$3.err" >&2
    echo "FAILED: $1 kustomize $2" >&2
    exit 1
  fi
  grep -Ev "$deprecated" "$3.err" >&2 || true
}

dirs=(k8s/base)
for d in k8s/overlays/*/; do dirs+=("${d%/}"); done
renderers=("$kubectl")
[[ "${K8S_SKIP_OLD_KUSTOMIZE:-0}" != 1 && -x "$old_kubectl" ]] && renderers+=("$old_kubectl")

rendered=()
seen=" "
for r in "${renderers[@]}"; do
  label="$("$r" version --client 2>/dev/null | grep -oE 'v[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true)"
  [[ "$seen" == *" ${label:-x} "* ]] && continue # e.g. KUBECTL is Debian's kubectl 1.20 itself
  seen+="${label:-x} "
  step "rendering with kubectl ${label:-?} ($r)"
  for d in "${dirs[@]}"; do
    f="$out/$(basename "$d")-kubectl-${label:-x}.yaml"
    render "$r" "$d" "$f"
    printf '  %-32s %3d objects\n' "$d" "$(grep -c '^kind:' "$f")"
    rendered+=("$f")
  done
done

# --- validate ---------------------------------------------------------------------------------
# One run per version over every file (the schemas load once); its lines name the file.
for v in $versions; do
  step "kubernetes-validate --strict against Kubernetes $v"
  log="$out/validate-$v.log"
  rc=0
  "$venv/bin/kubernetes-validate" --strict -k "$v" "${rendered[@]}" >"$log" 2>&1 || rc=$?
  # A kind or API version without a schema is only a warning there: treat it as an error.
  if ((rc != 0)) || grep -qvE '^INFO .* passed for resource ' "$log"; then
    grep -vE '^INFO' "$log" >&2 || true
    echo "FAILED: kubernetes-validate --strict -k $v" >&2
    exit 1
  fi
  for f in "${rendered[@]}"; do
    passed="$(grep -cF "INFO $f passed" "$log" || true)"
    objects="$(grep -c '^kind:' "$f")"
    if ((passed != objects)); then
      echo "FAILED: $(basename "$f"): $passed of $objects objects validated" >&2
      exit 1
    fi
    printf '  %-40s %3d objects passed\n' "$(basename "$f" .yaml)" "$passed"
  done
done

# --- project rules ----------------------------------------------------------------------------
step "DDiscord's manifest rules (scripts/k8s-policy.py)"
"$venv/bin/python" scripts/k8s-policy.py "${rendered[@]}"

# --- the broker configuration the pod runs ----------------------------------------------------
step "Mosquitto starts with the self-contained overlay's configuration"
if have mosquitto; then
  "$venv/bin/python" scripts/k8s-policy.py --mosquitto-smoke "$out"/self-contained-kubectl-*.yaml
else
  echo "  mosquitto not installed: skipped (scripts/test installs it)"
fi

step "Redis starts with the self-contained overlay's arguments"
if have redis-server; then
  "$venv/bin/python" scripts/k8s-policy.py --redis-smoke "$out"/self-contained-kubectl-*.yaml
else
  echo "  redis-server not installed: skipped (scripts/test installs it)"
fi

step "k8s manifests OK ($((SECONDS - start)) s)"
