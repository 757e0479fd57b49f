"""DDiscord's rules for its rendered Kubernetes manifests (run by scripts/test-k8s.sh).

    k8s-policy.py RENDERED.yaml...                  check every rule, print what was checked
    k8s-policy.py --mosquitto-smoke RENDERED.yaml   start mosquitto with the pod's configuration
    k8s-policy.py --redis-smoke RENDERED.yaml       start redis-server with the pod's arguments

Each RENDERED file is the output of `kubectl kustomize` for one kustomization; its name starts with
the kustomization's directory name (base, self-contained, demo, gke). Exit status 1 on any
violation, with one line per violation saying what to fix.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CANONICAL_MOSQUITTO_CONF = os.path.join(
    ROOT, "k8s", "overlays", "self-contained", "mosquitto", "mosquitto.conf"
)
# API versions removed from Kubernetes (or about to be): never ship them.
REMOVED_API_VERSIONS = re.compile(
    r"^(extensions/v1beta1|apps/v1beta[12]|policy/v1beta1|autoscaling/v2beta[12]|batch/v1beta1"
    r"|networking\.k8s\.io/v1beta1)$"
)
CURRENT = {"HorizontalPodAutoscaler": "autoscaling/v2", "PodDisruptionBudget": "policy/v1"}
# The shape of a Discord bot token: base64 user id, timestamp, HMAC.
DISCORD_TOKEN = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")
SECRET_KEYS = ("DISCORD_TOKEN", "DDISCORD_REDIS_URL", "DDISCORD_MESH_URL", "DDISCORD_SOLACE_PASSWORD")
COMPONENTS = ("ddiscord-ingest", "ddiscord-state-worker", "ddiscord-interactions")
# Objects the operator creates (documented in docs/deploy.md), not rendered by kustomize.
EXTERNAL = {("ConfigMap", "ddiscord-fixtures")}


class Checker:
    def __init__(self, path):
        self.path = path
        self.overlay = os.path.basename(path).split("-kubectl-")[0]
        with open(path, encoding="utf-8") as f:
            self.docs = [d for d in yaml.safe_load_all(f) if d]
        self.errors = []
        self.checked = 0

    def need(self, ok, what):
        self.checked += 1
        if not ok:
            self.errors.append(f"{os.path.basename(self.path)}: {what}")

    def objects(self, kind):
        return [d for d in self.docs if d.get("kind") == kind]

    def get(self, kind, name):
        for d in self.objects(kind):
            if d["metadata"]["name"] == name:
                return d
        return None

    def named_like(self, kind, prefix):
        """Generated ConfigMaps carry a hash suffix: ddiscord-config-<hash>."""
        return [
            d
            for d in self.objects(kind)
            if d["metadata"]["name"] == prefix
            or d["metadata"]["name"].startswith(prefix + "-")
        ]

    def run(self):
        self.api_versions()
        for kind in ("Deployment", "StatefulSet"):
            for w in self.objects(kind):
                self.workload(w)
        self.components()
        self.secrets()
        self.services()
        self.documented()
        if self.overlay != "base":
            self.namespaced()
        if self.overlay in ("self-contained", "demo"):
            self.in_cluster_backends()
            self.mosquitto_config()
        if self.overlay == "gke":
            self.gke()
        if self.overlay == "demo":
            self.demo()
        return self.errors

    def api_versions(self):
        for d in self.docs:
            name = f"{d['kind']}/{d['metadata']['name']}"
            self.need(
                not REMOVED_API_VERSIONS.match(d["apiVersion"]),
                f"{name} uses the removed API version {d['apiVersion']}",
            )
            if d["kind"] in CURRENT:
                self.need(
                    d["apiVersion"] == CURRENT[d["kind"]],
                    f"{name}: use {CURRENT[d['kind']]}, not {d['apiVersion']}",
                )

    def workload(self, w):
        name = f"{w['kind']}/{w['metadata']['name']}"
        pod = w["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        self.need(pod.get("automountServiceAccountToken") is False, f"{name}: mounts a token")
        self.need(
            psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{name}: set seccompProfile RuntimeDefault",
        )
        selector = w["spec"]["selector"]["matchLabels"]
        labels = w["spec"]["template"]["metadata"].get("labels", {})
        self.need(
            all(labels.get(k) == v for k, v in selector.items()),
            f"{name}: selector does not match the pod labels",
        )
        for v in pod.get("volumes", []):
            for kind, key, field in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName")):
                if key in v:
                    self.resolves(kind, v[key][field], f"{name} volume {v['name']}")
        for c in pod["containers"] + pod.get("initContainers", []):
            cname = f"{name} container {c['name']}"
            for e in c.get("env", []):
                for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    ref = e.get("valueFrom", {}).get(key)
                    if ref:
                        obj = self.resolves(kind, ref["name"], f"{cname} env {e['name']}")
                        if obj is not None:
                            data = {**obj.get("data", {}), **obj.get("stringData", {})}
                            self.need(ref["key"] in data, f"{cname} env {e['name']}: no key {ref['key']}")
            sc = c.get("securityContext", {})
            non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
            self.need(non_root is True, f"{cname}: set runAsNonRoot")
            self.need(sc.get("readOnlyRootFilesystem") is True, f"{cname}: read-only root fs")
            self.need(sc.get("allowPrivilegeEscalation") is False, f"{cname}: privilege escalation")
            self.need(
                "ALL" in sc.get("capabilities", {}).get("drop", []),
                f"{cname}: drop ALL capabilities",
            )
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    self.need(r in res.get(part, {}), f"{cname}: set resources.{part}.{r}")
            image = c.get("image", "")
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
            self.need(tag not in ("", "latest"), f"{cname}: pin the image tag ({image})")
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                p = c.get(probe)
                if p is None:
                    continue
                target = (p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
                if isinstance(target, str):
                    self.need(target in ports, f"{cname}: {probe} names unknown port {target}")
            self.need("readinessProbe" in c, f"{cname}: add a readinessProbe")
            self.need("livenessProbe" in c, f"{cname}: add a livenessProbe")

    def resolves(self, kind, name, what):
        """The object `what` refers to is in the output (or created by the operator)."""
        obj = self.get(kind, name)
        self.need(
            obj is not None or (kind, name) in EXTERNAL,
            f"{what}: {kind} {name} is not in the output",
        )
        return obj

    def components(self):
        for name in COMPONENTS:
            d = self.get("Deployment", name)
            self.need(d is not None, f"Deployment/{name} missing")
            if d is None:
                continue
            tpl = d["spec"]["template"]
            c = tpl["spec"]["containers"][0]
            ann = tpl["metadata"].get("annotations", {})
            self.need(
                ann.get("prometheus.io/scrape") == "true"
                and ann.get("prometheus.io/port") == "8080"
                and ann.get("prometheus.io/path") == "/metrics",
                f"{name}: Prometheus scrape annotations (true, 8080, /metrics)",
            )
            http = [p for p in c.get("ports", []) if p.get("name") == "http"]
            self.need(http and http[0]["containerPort"] == 8080, f"{name}: port http 8080")
            self.need(
                c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz",
                f"{name}: readiness on /readyz",
            )
            self.need(
                c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz",
                f"{name}: liveness on /healthz",
            )
            refs = c.get("envFrom", [])
            cms = [r["configMapRef"]["name"] for r in refs if "configMapRef" in r]
            secrets = [r["secretRef"]["name"] for r in refs if "secretRef" in r]
            self.need(
                cms and all(self.get("ConfigMap", n) for n in cms),
                f"{name}: envFrom ConfigMap {cms} not in the output",
            )
            self.need(
                secrets and all(self.get("Secret", n) for n in secrets),
                f"{name}: envFrom Secret {secrets} not in the output",
            )
            # Secrets come last so their values win over the ConfigMap's.
            self.need(refs and "secretRef" in refs[-1], f"{name}: list the secretRef last")
            strategy = d["spec"].get("strategy", {})
            roll = strategy.get("rollingUpdate", {})
            self.need(
                strategy.get("type") == "RollingUpdate"
                and roll.get("maxUnavailable") == 0
                and roll.get("maxSurge") == 1,
                f"{name}: rolling update with maxUnavailable 0 and maxSurge 1",
            )
            pdb = self.get("PodDisruptionBudget", name)
            self.need(
                pdb is not None
                and pdb["spec"].get("maxUnavailable") == 1
                and pdb["spec"]["selector"]["matchLabels"].items()
                <= tpl["metadata"]["labels"].items(),
                f"{name}: PodDisruptionBudget with maxUnavailable 1 selecting its pods",
            )
        ingest = self.get("Deployment", "ddiscord-ingest")
        if ingest:
            pod = ingest["spec"]["template"]["spec"]
            self.need(pod["containers"][0].get("args", [None])[0] == "ingest", "ingest: args")
            # Ingest needs about 10 s to persist its sessions and close its shards with 4000.
            self.need(
                pod.get("terminationGracePeriodSeconds", 30) >= 30,
                "ingest: terminationGracePeriodSeconds >= 30 (shutdown takes about 10 s)",
            )
        worker = self.get("Deployment", "ddiscord-state-worker")
        if worker:
            c = worker["spec"]["template"]["spec"]["containers"][0]
            self.need(c.get("args", [None])[0] == "state-worker", "state-worker: args")
            hpa = self.get("HorizontalPodAutoscaler", "ddiscord-state-worker")
            ok = (
                hpa is not None
                and hpa["spec"]["scaleTargetRef"] == {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "ddiscord-state-worker",
                }
                and hpa["spec"].get("minReplicas") == 2
                and hpa["spec"].get("maxReplicas") == 8
                and any(
                    m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"]["metrics"]
                )
            )
            self.need(ok, "state-worker: CPU HPA on its Deployment, min 2, max 8")
            self.need(
                "replicas" not in worker["spec"],
                "state-worker: leave replicas to the HPA (kubectl apply would reset it)",
            )
            self.need("cpu" in c["resources"]["requests"], "state-worker: CPU request (HPA)")

        endpoint = self.get("Deployment", "ddiscord-interactions")
        if endpoint:
            spec = endpoint["spec"]
            c = spec["template"]["spec"]["containers"][0]
            self.need(c.get("args", [None])[0] == "interactions", "interactions: args")
            self.need(spec.get("replicas", 1) >= 2, "interactions: at least 2 replicas")
            port = [p for p in c.get("ports", []) if p.get("name") == "interactions"]
            addr = {e["name"]: e.get("value") for e in c.get("env", [])}.get("DDISCORD_INTERACTIONS_ADDR", "")
            self.need(
                port and addr.endswith(f":{port[0]['containerPort']}"),
                "interactions: DDISCORD_INTERACTIONS_ADDR listens on the port named interactions",
            )
            svc = self.get("Service", "ddiscord-interactions")
            self.need(
                svc is not None
                and any(p.get("targetPort") == "interactions" for p in svc["spec"]["ports"]),
                "interactions: a Service exposing the port named interactions",
            )

    def secrets(self):
        for s in self.objects("Secret"):
            values = {**s.get("stringData", {}), **s.get("data", {})}
            for k, v in values.items():
                self.need(
                    not DISCORD_TOKEN.search(str(v)),
                    f"Secret/{s['metadata']['name']}: {k} looks like a real Discord token",
                )
        for cm in self.objects("ConfigMap"):
            for k in cm.get("data", {}):
                self.need(
                    k not in SECRET_KEYS,
                    f"ConfigMap/{cm['metadata']['name']}: {k} belongs in the Secret",
                )

    def services(self):
        pods = [
            w["spec"]["template"]["metadata"].get("labels", {})
            for kind in ("Deployment", "StatefulSet")
            for w in self.objects(kind)
        ]
        for s in self.objects("Service"):
            sel = s["spec"].get("selector", {})
            self.need(
                any(sel.items() <= p.items() for p in pods),
                f"Service/{s['metadata']['name']}: selects no pods",
            )

    def namespaced(self):
        namespaces = [n["metadata"]["name"] for n in self.objects("Namespace")]
        self.need(len(namespaces) == 1, "overlay: exactly one Namespace")
        for d in self.docs:
            if d["kind"] == "Namespace":
                continue
            self.need(
                d["metadata"].get("namespace") in namespaces,
                f"{d['kind']}/{d['metadata']['name']}: not in the overlay's namespace",
            )
            labels = d["metadata"].get("labels", {})
            self.need(
                labels.get("app.kubernetes.io/part-of") == "ddiscord",
                f"{d['kind']}/{d['metadata']['name']}: label app.kubernetes.io/part-of",
            )

    def documented(self):
        """Every variable the manifests set is in the configuration reference."""
        with open(os.path.join(ROOT, "docs", "deploy.md"), encoding="utf-8") as f:
            doc = f.read()
        keys = set()
        for d in self.objects("ConfigMap") + self.objects("Secret"):
            keys |= {k for k in {**d.get("data", {}), **d.get("stringData", {})} if "DISCORD" in k}
        for kind in ("Deployment", "StatefulSet"):
            for w in self.objects(kind):
                for c in w["spec"]["template"]["spec"]["containers"]:
                    keys |= {e["name"] for e in c.get("env", []) if "DISCORD" in e["name"]}
        for k in sorted(keys):
            self.need(f"| `{k}` |" in doc, f"{k} is missing from docs/deploy.md's reference")

    def secret_values(self):
        s = self.get("Secret", "ddiscord-secrets") or {}
        return s.get("stringData", {})

    def in_cluster_backends(self):
        values = self.secret_values()
        for key, service, port in (
            ("DDISCORD_REDIS_URL", "redis", 6379),
            ("DDISCORD_MESH_URL", "mosquitto", 1883),
        ):
            url = values.get(key, "")
            m = re.match(r"^[a-z0-9]+://(?:[^@/]*@)?([^:/]+):(\d+)", url)
            self.need(m is not None, f"{key}={url!r} is not a URL with host and port")
            if not m:
                continue
            svc = self.get("Service", m.group(1))
            self.need(
                m.group(1) == service
                and svc is not None
                and any(p["port"] == int(m.group(2)) for p in svc["spec"]["ports"]),
                f"{key}={url} does not reach Service {service}:{port}",
            )
        sts = self.get("StatefulSet", "mosquitto")
        self.need(
            sts is not None and sts["spec"].get("volumeClaimTemplates"),
            "Mosquitto: a StatefulSet with a PersistentVolumeClaim",
        )

    def mosquitto_config(self):
        cms = self.named_like("ConfigMap", "mosquitto-config")
        self.need(len(cms) == 1, "one mosquitto-config ConfigMap")
        if not cms:
            return
        data = cms[0]["data"]
        with open(CANONICAL_MOSQUITTO_CONF, encoding="utf-8") as f:
            canonical = f.read()
        shared = data.get("mosquitto.conf", "")
        self.need(shared == canonical, "mosquitto.conf in the ConfigMap differs from the canonical file")
        directives = [line.split()[0] for line in shared.splitlines() if line and line[0] != "#"]
        for forbidden in ("listener", "port", "persistence_location", "include_dir"):
            self.need(
                forbidden not in directives,
                f"mosquitto.conf must not set {forbidden} (tests and pod.conf set it)",
            )
        settings = dict(
            line.split(None, 1) for line in shared.splitlines() if line and line[0] != "#"
        )
        # The settings that keep QoS 1 messages for slow or offline subscribers.
        self.need(settings.get("persistence") == "true", "mosquitto.conf: persistence true")
        self.need(
            int(settings.get("max_queued_messages", "1000")) >= 100000,
            "mosquitto.conf: max_queued_messages far above the default 1000",
        )
        pod_conf = dict(
            line.split(None, 1)
            for line in data.get("pod.conf", "").splitlines()
            if line and line[0] != "#"
        )
        sts = self.get("StatefulSet", "mosquitto")
        if sts is None:
            return
        c = sts["spec"]["template"]["spec"]["containers"][0]
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
        items = {i["key"]: i["path"] for i in vol["configMap"].get("items", [])}
        conf_dir = mounts.get("config", "")
        self.need(
            c.get("command", [])[-1:] == [f"{conf_dir}/{items.get('pod.conf')}"],
            "mosquitto runs with the mounted pod.conf",
        )
        self.need(
            pod_conf.get("include_dir")
            == os.path.dirname(f"{conf_dir}/{items.get('mosquitto.conf')}"),
            "pod.conf includes the directory where mosquitto.conf is mounted",
        )
        self.need(
            pod_conf.get("persistence_location") == mounts.get("data", "") + "/",
            "pod.conf persistence_location is the PersistentVolumeClaim's mount, with a '/'",
        )
        self.need(pod_conf.get("listener", "").split()[0:1] == ["1883"], "pod.conf: listener 1883")

    def gke(self):
        for kind in ("Deployment", "StatefulSet"):
            for w in self.objects(kind):
                self.need(
                    w["metadata"]["name"] in COMPONENTS,
                    f"gke: {kind}/{w['metadata']['name']} (no in-cluster Redis or broker)",
                )
        sa = self.get("ServiceAccount", "ddiscord") or {}
        self.need(
            "iam.gke.io/gcp-service-account" in sa.get("metadata", {}).get("annotations", {}),
            "gke: Workload Identity annotation on the ServiceAccount",
        )
        values = self.secret_values()
        self.need(
            values.get("DDISCORD_MESH_URL", "").startswith(("mqtts://", "solace://", "tcps://")),
            "gke: DDISCORD_MESH_URL is Solace (mqtts:// or solace://)",
        )

    def demo(self):
        cm = self.named_like("ConfigMap", "ddiscord-config")
        url = cm[0]["data"].get("DDISCORD_GATEWAY_URL", "") if cm else ""
        self.need(url == "ws://ddiscord-sim:7878", f"demo: DDISCORD_GATEWAY_URL={url!r}")
        self.need(self.get("Service", "ddiscord-sim") is not None, "demo: Service ddiscord-sim")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_smoke(path):
    """Starts mosquitto with the rendered pod.conf + mosquitto.conf (paths moved to a temporary
    directory, listener on a free loopback port, `user root`), waits until it accepts connections, stops it
    with SIGTERM and checks it saved its persistence file where pod.conf says."""
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    cm = next(
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mosquitto-config")
    )
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(f"{tmp}/shared")
        os.makedirs(f"{tmp}/data")
        with open(f"{tmp}/shared/mosquitto.conf", "w", encoding="utf-8") as f:
            f.write(cm["data"]["mosquitto.conf"])
        pod = cm["data"]["pod.conf"]
        pod = re.sub(r"(?m)^listener .*$", f"listener {port} 127.0.0.1", pod)
        pod = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {tmp}/data/", pod)
        pod = re.sub(r"(?m)^include_dir .*$", f"include_dir {tmp}/shared", pod)
        # As in the testkit: started as root, mosquitto would switch to the `mosquitto` user,
        # which cannot write this directory (the pod runs as that user from the start).
        pod += "\nuser root\n"
        with open(f"{tmp}/pod.conf", "w", encoding="utf-8") as f:
            f.write(pod)
        log = open(f"{tmp}/log", "w+", encoding="utf-8")
        proc = subprocess.Popen(["mosquitto", "-c", f"{tmp}/pod.conf"], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    sys.exit(f"mosquitto exited ({proc.returncode}):\n{log.read()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("mosquitto did not listen within 10 s")
                    time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        log.seek(0)
        text = log.read()
        if "rror" in text:
            sys.exit(f"mosquitto logged an error:\n{text}")
        if not os.path.exists(f"{tmp}/data/mosquitto.db"):
            sys.exit(f"mosquitto saved no persistence file in persistence_location:\n{text}")
        print(f"  {os.path.basename(path)}: pod.conf + mosquitto.conf accepted by "
              f"{text.split('version', 1)[1].split()[0] if 'version' in text else 'mosquitto'}, "
              "listening, persistence saved on SIGTERM")


def redis_command(port, *words):
    """One RESP command over a fresh connection; returns the raw reply."""
    body = "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(f"*{len(words)}\r\n{body}".encode())
        return conn.recv(4096).decode(errors="replace")


def redis_smoke(path):
    """Starts redis-server with the rendered Redis container's arguments (data directory moved to a
    temporary one, port free, loopback only) and checks it answers and runs noeviction."""
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "redis")
    args = list(dep["spec"]["template"]["spec"]["containers"][0]["args"])
    if args[:1] == ["redis-server"]:
        args = args[1:]
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        args = [tmp if a == "/data" else a for a in args]
        args += ["--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        log = open(f"{tmp}/log", "w+", encoding="utf-8")
        proc = subprocess.Popen(["redis-server", *args], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    sys.exit(f"redis-server {' '.join(args)} exited ({proc.returncode}):\n{log.read()}")
                try:
                    if "PONG" in redis_command(port, "PING"):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("redis-server did not answer within 10 s")
                time.sleep(0.05)
            policy = redis_command(port, "CONFIG", "GET", "maxmemory-policy")
            aof = redis_command(port, "CONFIG", "GET", "appendonly")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        if "noeviction" not in policy or "yes" not in aof:
            sys.exit(f"redis-server runs maxmemory-policy/appendonly {policy!r} {aof!r}")
        print(f"  {os.path.basename(path)}: redis-server accepts the pod's arguments "
              "(appendonly yes, noeviction)")


def main(argv):
    if argv[:1] == ["--mosquitto-smoke"]:
        for path in argv[1:]:
            mosquitto_smoke(path)
        return 0
    if argv[:1] == ["--redis-smoke"]:
        for path in argv[1:]:
            redis_smoke(path)
        return 0
    print(
        "  rules: HPA autoscaling/v2, PDB policy/v1, no removed API versions; non-root, read-only\n"
        "  root fs, no capabilities, seccomp, no token mount; requests and limits; probes on named\n"
        "  ports; ingest, state-worker, interactions: /readyz, /healthz, :8080, scrape annotations,\n"
        "  envFrom resolves, rolling update 0/1, PDB maxUnavailable 1, ingest grace >= 30 s, HPA 2-8\n"
        "  on CPU; interactions: >= 2 replicas, its listen port named and exposed by its Service;\n"
        "  Services select pods; no token-shaped Secret value; variables documented; overlays:\n"
        "  namespace and labels, in-cluster URLs reach their Services, Mosquitto config and mounts,\n"
        "  GKE without in-cluster backends and with Workload Identity, demo wired to the simulator"
    )
    failed = False
    for path in argv:
        c = Checker(path)
        errors = c.run()
        status = "ok" if not errors else f"{len(errors)} FAILED"
        print(f"  {os.path.basename(path)[:-5]:40} {c.checked:4} checks {status}")
        for e in errors:
            print(f"    {e}", file=sys.stderr)
        failed |= bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
