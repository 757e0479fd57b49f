//! The GKE overlay as its pods would run: `kubectl kustomize k8s/overlays/gke` rendered, the
//! ingest and state-worker containers' environments resolved as the kubelet does (ConfigMap and
//! Secret, the Memorystore CA Secret written where it is mounted), and only what points outside
//! the test replaced: the `REPLACE_WITH_*` hosts by the test's servers, the credential
//! placeholders by the test's credentials, the mounted CA by the test's CA. The servers require
//! TLS and a login, as Memorystore (AUTH string, in-transit encryption) and Solace's MQTT service
//! do. Ingest, the state worker and the interactions endpoint must come up ready: a variable the
//! manifests set that the code does not read (or the other way round) fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::k8s::Container;
use common::sim::SimControl;
use common::{Env, Harness, env, fixtures, free_addr};
use ddiscord_testkit::{Mosquitto, Pki, RedisServer, Secured};

const AUTH_STRING: &str = "memorystore-auth-5e1f";
const MESH_PASSWORD: &str = "solace-pass-93ab";

fn containers() -> Option<(Container, Container, Container)> {
    let docs = common::k8s::render_or_skip("k8s/overlays/gke")?;
    let all = common::k8s::containers(&docs).unwrap();
    let pick = |name: &str| {
        all.iter()
            .find(|c| c.deployment == name)
            .cloned()
            .unwrap_or_else(|| panic!("no Deployment {name} in the gke overlay"))
    };
    Some((
        pick("ddiscord-ingest"),
        pick("ddiscord-state-worker"),
        pick("ddiscord-interactions"),
    ))
}

/// The container's environment with the placeholders replaced and its secret volumes written
/// under `root` (mount paths rewritten to match).
fn rewrite(
    c: &Container,
    root: &std::path::Path,
    replacements: &[(&str, String)],
    ca_pem: &str,
) -> Env {
    let mut env = c.env.clone();
    for (path, files) in &c.secret_mounts {
        let dir = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        for (key, content) in files {
            // The overlay ships a placeholder CA: the test's CA stands in for Memorystore's.
            let content = if content.contains("REPLACE_WITH_") {
                ca_pem
            } else {
                content
            };
            std::fs::write(dir.join(key), content).unwrap();
        }
        for value in env.values_mut() {
            if value.starts_with(path.as_str()) {
                *value = value.replacen(path.as_str(), &dir.display().to_string(), 1);
            }
        }
    }
    for value in env.values_mut() {
        for (from, to) in replacements {
            *value = value.replace(from, to);
        }
    }
    let left: Vec<_> = env
        .iter()
        .filter(|(_, v)| v.contains("REPLACE_WITH_"))
        .collect();
    assert!(
        left.is_empty(),
        "{}: placeholders the test does not know (add them to the test and docs/deploy.md): {left:?}",
        c.deployment
    );
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gke_overlays_environment_comes_up_ready_against_tls_servers() {
    let Some((ingest, worker, interactions)) = containers() else {
        return;
    };
    for c in [&ingest, &worker] {
        for var in [
            "DDISCORD_REDIS_URL",
            "DDISCORD_REDIS_PASSWORD",
            "DDISCORD_REDIS_CA_FILE",
            "DDISCORD_MESH_URL",
            "DDISCORD_MESH_USERNAME",
            "DDISCORD_MESH_PASSWORD",
        ] {
            assert!(
                c.env.contains_key(var),
                "{}: {var} is not set",
                c.deployment
            );
        }
    }
    let mut h = Harness::new();
    let pki = Pki::generate(&h.dir().join("pki")).unwrap();
    // Memorystore: the `default` user with the AUTH string; Solace: a client username.
    let redis = RedisServer::start_secured(&Secured {
        pki: pki.clone(),
        username: "default".into(),
        password: AUTH_STRING.into(),
    })
    .unwrap();
    let broker = Mosquitto::start_secured(&Secured {
        pki: pki.clone(),
        username: "solace-client".into(),
        password: MESH_PASSWORD.into(),
    })
    .unwrap();
    let sim = SimControl { addr: free_addr() };
    let sim_proc = h.spawn(
        "sim",
        &[
            "sim",
            "--bind",
            &sim.addr,
            "--shards",
            "1",
            "--guilds",
            "2",
            "--events-per-sec",
            "20",
        ],
        &env([("DDISCORD_FIXTURES", fixtures().display().to_string())]),
    );
    h.wait_sim(sim_proc, &sim).await;
    let replacements = [
        (
            "REPLACE_WITH_MEMORYSTORE_IP:6378",
            format!("127.0.0.1:{}", redis.port()),
        ),
        (
            "REPLACE_WITH_SOLACE_HOST:8883",
            format!("127.0.0.1:{}", broker.port()),
        ),
        ("REPLACE_WITH_MEMORYSTORE_AUTH_STRING", AUTH_STRING.into()),
        ("REPLACE_WITH_SOLACE_USERNAME", "solace-client".into()),
        ("REPLACE_WITH_SOLACE_PASSWORD", MESH_PASSWORD.into()),
        ("REPLACE_WITH_BOT_TOKEN", "sim-token".into()),
        // Read by the interactions endpoint only; any 64 hex characters pass the shape check.
        ("REPLACE_WITH_APPLICATION_PUBLIC_KEY", "0".repeat(64)),
    ];
    let ca_pem = std::fs::read_to_string(&pki.ca_file).unwrap();
    let root = h.dir().join("pods");
    let spawn_env = |c: &Container, name: &str| {
        let mut env = rewrite(c, &root.join(name), &replacements, &ca_pem);
        // Solace Cloud's certificate chains to a public root; the test broker's to the test CA.
        env.insert(
            "DDISCORD_MESH_CA_FILE".into(),
            pki.ca_file.display().to_string(),
        );
        env.insert("DDISCORD_HTTP_ADDR".into(), free_addr());
        env
    };
    let worker_env = spawn_env(&worker, "state-worker");
    let mut ingest_env = spawn_env(&ingest, "ingest");
    ingest_env.insert("DDISCORD_GATEWAY_URL".into(), sim.ws_url());
    ingest_env.insert("DDISCORD_IDENTIFY_RESERVE".into(), "0".into());
    let args = |c: &Container| c.args.clone();
    let (wa, ia) = (args(&worker), args(&ingest));
    let w = h.spawn(
        "state-worker",
        &wa.iter().map(String::as_str).collect::<Vec<_>>(),
        &worker_env,
    );
    h.wait_http_ok(w, "/healthz", Duration::from_secs(60)).await;
    let i = h.spawn(
        "ingest",
        &ia.iter().map(String::as_str).collect::<Vec<_>>(),
        &ingest_env,
    );
    h.wait_http_ok(i, "/readyz", Duration::from_secs(60)).await;
    h.wait_http_ok(w, "/readyz", Duration::from_secs(60)).await;
    // The interactions endpoint reaches the same mesh with the same variables.
    let mut endpoint_env = spawn_env(&interactions, "interactions");
    endpoint_env.insert("DDISCORD_INTERACTIONS_ADDR".into(), free_addr());
    let ea = args(&interactions);
    let e = h.spawn(
        "interactions",
        &ea.iter().map(String::as_str).collect::<Vec<_>>(),
        &endpoint_env,
    );
    h.wait_http_ok(e, "/readyz", Duration::from_secs(60)).await;
    h.note("ingest, the state worker and the interactions endpoint are ready with the gke overlay's environment");
}
