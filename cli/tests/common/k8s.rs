//! The Kubernetes manifests as the tests run them: `kubectl kustomize` renders an overlay, and
//! each Deployment's container becomes a command line and an environment, resolved the way the
//! kubelet does (`envFrom` in order, then `env`, `valueFrom` from the rendered ConfigMaps and
//! Secrets).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use super::Env;

/// One container of a rendered Deployment.
#[derive(Debug, Clone)]
pub struct Container {
    /// The Deployment's name.
    pub deployment: String,
    /// Its replica count (`spec.replicas`, 1 when absent).
    pub replicas: u64,
    /// `args` (the subcommand).
    pub args: Vec<String>,
    /// The resolved environment.
    pub env: Env,
    /// Secret volumes: mount path → the Secret's files (key → content), as the kubelet writes
    /// them into the container.
    pub secret_mounts: BTreeMap<String, BTreeMap<String, String>>,
}

/// Renders `overlay` (relative to the repository) with `kubectl kustomize`; `Err` says why
/// (kubectl missing, or the render failed).
pub fn render(overlay: &str) -> Result<Vec<Value>, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(overlay);
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .map_err(|e| format!("kubectl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubectl kustomize {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8(out.stdout).map_err(|e| e.to_string())?;
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let v = Value::deserialize(doc).map_err(|e| format!("rendered YAML: {e}"))?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// [`render`], or `None` with a SKIPPED line when kubectl is not installed (scripts/test
/// installs it); any other failure panics.
pub fn render_or_skip(overlay: &str) -> Option<Vec<Value>> {
    match render(overlay) {
        Ok(docs) => Some(docs),
        Err(e) if e.starts_with("kubectl:") => {
            eprintln!(
                "SKIPPED: kubectl is not installed ({e}); scripts/test installs it (Debian's kubernetes-client)"
            );
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn base64_decode(s: &str) -> String {
    let table = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter_map(table) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The data of every ConfigMap and Secret by (kind, name).
fn sources(docs: &[Value]) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for d in docs {
        let kind = d["kind"].as_str().unwrap_or_default();
        let name = d["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let data = match kind {
            "ConfigMap" => string_map(&d["data"]),
            "Secret" => {
                let mut m: BTreeMap<String, String> = string_map(&d["data"])
                    .into_iter()
                    .map(|(k, v)| (k, base64_decode(&v)))
                    .collect();
                m.extend(string_map(&d["stringData"]));
                m
            }
            _ => continue,
        };
        out.insert((kind.to_owned(), name), data);
    }
    out
}

/// Every Deployment's first container, with its environment resolved.
pub fn containers(docs: &[Value]) -> Result<Vec<Container>, String> {
    let sources = sources(docs);
    let lookup = |kind: &str, name: &str| {
        sources
            .get(&(kind.to_owned(), name.to_owned()))
            .ok_or_else(|| format!("{kind} {name} is referenced but not rendered"))
    };
    let mut out = Vec::new();
    for d in docs.iter().filter(|d| d["kind"] == "Deployment") {
        let deployment = d["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        let mut env = Env::new();
        for from in c["envFrom"].as_array().into_iter().flatten() {
            let prefix = from["prefix"].as_str().unwrap_or_default();
            let (kind, name) = if let Some(n) = from["configMapRef"]["name"].as_str() {
                ("ConfigMap", n)
            } else if let Some(n) = from["secretRef"]["name"].as_str() {
                ("Secret", n)
            } else {
                return Err(format!("{deployment}: unknown envFrom {from}"));
            };
            for (k, v) in lookup(kind, name)? {
                env.insert(format!("{prefix}{k}"), v.clone());
            }
        }
        for e in c["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or_default().to_owned();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_owned()
            } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                let src = lookup("Secret", r["name"].as_str().unwrap_or_default())?;
                let key = r["key"].as_str().unwrap_or_default();
                src.get(key)
                    .cloned()
                    .ok_or_else(|| format!("{deployment}: {name}: no key {key} in the Secret"))?
            } else if let Some(r) = e["valueFrom"]["configMapKeyRef"].as_object() {
                let src = lookup("ConfigMap", r["name"].as_str().unwrap_or_default())?;
                let key = r["key"].as_str().unwrap_or_default();
                src.get(key)
                    .cloned()
                    .ok_or_else(|| format!("{deployment}: {name}: no key {key} in the ConfigMap"))?
            } else {
                return Err(format!(
                    "{deployment}: env {name} has no value the test can resolve: {e}"
                ));
            };
            env.insert(name, value);
        }
        let volumes = &d["spec"]["template"]["spec"]["volumes"];
        let mut secret_mounts = BTreeMap::new();
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            let name = m["name"].as_str().unwrap_or_default();
            let Some(volume) = volumes
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == name)
            else {
                return Err(format!("{deployment}: volumeMount {name} has no volume"));
            };
            if let Some(secret) = volume["secret"]["secretName"].as_str() {
                let path = m["mountPath"].as_str().unwrap_or_default().to_owned();
                secret_mounts.insert(path, lookup("Secret", secret)?.clone());
            }
        }
        let args = c["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        out.push(Container {
            deployment,
            replicas: d["spec"]["replicas"].as_u64().unwrap_or(1),
            args,
            env,
            secret_mounts,
        });
    }
    Ok(out)
}
