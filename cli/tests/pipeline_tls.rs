//! The pipeline against servers that require TLS and a login, as production brokers and
//! Memorystore do: a private Mosquitto whose only listener speaks TLS with a password file,
//! and a private redis-server with only a TLS port and one ACL user, both with certificates of
//! a CA generated here. `ddiscord ingest`, `ddiscord state-worker` and the simulator run as
//! separate processes with the credentials in the environment (the mesh password from a file,
//! as a mounted secret).
//!
//! Checks that (i) the cache ends equal to the reference projection of what the simulator
//! sent; (ii) a wrong password, an untrusted certificate and a plain URL to a TLS port each stop
//! the process with an error that says what to fix, for the mesh and for Redis; (iii) what was
//! published while the state worker could not log in is in the cache once it can; (iv) neither
//! password appears in any log line, error, `--help` or `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::sim::SimControl;
use common::{Env, Harness, binary, env, fixtures, free_addr, until};
use ddiscord::coord::RedisTarget;
use ddiscord::mesh::Secret;
use ddiscord::mesh::tls::TlsFiles;
use ddiscord_testkit::{Mosquitto, Pki, RedisServer, Secured};

const GUILDS: u32 = 3;
const MESH_PASSWORD: &str = "mesh-Pa55-7f3e9c";
const REDIS_PASSWORD: &str = "redis-Pa55-b41d07";

struct Servers {
    pki: Pki,
    broker: Mosquitto,
    redis: RedisServer,
    password_file: std::path::PathBuf,
}

impl Servers {
    fn start(h: &Harness) -> Self {
        let pki = Pki::generate(&h.dir().join("pki")).unwrap();
        let mesh = Secured {
            pki: pki.clone(),
            username: "ddiscord-mesh".into(),
            password: MESH_PASSWORD.into(),
        };
        let redis = Secured {
            pki: pki.clone(),
            username: "ddiscord-redis".into(),
            password: REDIS_PASSWORD.into(),
        };
        let password_file = h.dir().join("mesh-password");
        // As a mounted Kubernetes secret written from a file: with a trailing newline.
        std::fs::write(&password_file, format!("{MESH_PASSWORD}\n")).unwrap();
        Self {
            broker: Mosquitto::start_secured(&mesh).unwrap(),
            redis: RedisServer::start_secured(&redis).unwrap(),
            pki,
            password_file,
        }
    }

    /// The environment every process gets: URLs without credentials, credentials and CA files
    /// in their own variables.
    fn env(&self) -> Env {
        env([
            ("DDISCORD_MESH_URL", self.broker.url()),
            ("DDISCORD_MESH_USERNAME", "ddiscord-mesh".into()),
            (
                "DDISCORD_MESH_PASSWORD_FILE",
                self.password_file.display().to_string(),
            ),
            (
                "DDISCORD_MESH_CA_FILE",
                self.pki.ca_file.display().to_string(),
            ),
            ("DDISCORD_REDIS_URL", self.redis.url()),
            ("DDISCORD_REDIS_USERNAME", "ddiscord-redis".into()),
            ("DDISCORD_REDIS_PASSWORD", REDIS_PASSWORD.into()),
            (
                "DDISCORD_REDIS_CA_FILE",
                self.pki.ca_file.display().to_string(),
            ),
            ("DDISCORD_HTTP_ADDR", free_addr()),
            ("DDISCORD_LEASE_TTL_MS", "2000".into()),
            ("DDISCORD_LOG", "debug".into()),
        ])
    }

    async fn redis(&self) -> redis::aio::ConnectionManager {
        RedisTarget::new(self.redis.url())
            .with_credentials(Some("ddiscord-redis".into()), Secret::new(REDIS_PASSWORD))
            .with_tls(TlsFiles {
                ca_file: Some(self.pki.ca_file.clone()),
                ..TlsFiles::default()
            })
            .connect()
            .await
            .unwrap()
    }
}

fn with(base: &Env, changes: &[(&str, &str)]) -> Env {
    let mut env = base.clone();
    for (k, v) in changes {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env.insert("DDISCORD_HTTP_ADDR".into(), free_addr());
    env
}

/// Runs `ddiscord state-worker` with `env` and returns its output once it exits (it must, within
/// 60 s, with a failure status).
async fn worker_fails(env: &Env) -> String {
    let mut child = tokio::process::Command::new(binary())
        .arg("state-worker")
        .env_clear()
        .envs(env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the state worker kept running with settings that cannot work")
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!status.success(), "the state worker succeeded: {text}");
    text
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [MESH_PASSWORD, REDIS_PASSWORD] {
        assert!(
            !text.contains(secret),
            "{what} shows a password:\n{}",
            text.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_over_tls_with_credentials_and_says_what_is_wrong() {
    let mut h = Harness::new();
    let servers = Servers::start(&h);
    let base = servers.env();

    // (ii) Each mistake stops the worker with its own message; the message never shows a password.
    let tls_port = servers.broker.url().replace("mqtts://", "mqtt://");
    let redis_plain = servers.redis.url().replace("rediss://", "redis://");
    let untrusted = servers.pki.untrusted_ca_file.display().to_string();
    let wrong_mesh_password = h.dir().join("wrong-password");
    std::fs::write(&wrong_mesh_password, "not-the-password").unwrap();
    let wrong_mesh_password = wrong_mesh_password.display().to_string();
    // (what, the variables changed, what the error must say)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 6] = [
        (
            "a wrong mesh password",
            vec![("DDISCORD_MESH_PASSWORD_FILE", wrong_mesh_password.as_str())],
            "refused the credentials; check DDISCORD_MESH_USERNAME",
        ),
        (
            "an untrusted mesh certificate",
            vec![("DDISCORD_MESH_CA_FILE", untrusted.as_str())],
            "TLS handshake with the mesh broker",
        ),
        (
            "mqtt:// to the TLS port",
            vec![("DDISCORD_MESH_URL", tls_port.as_str())],
            "use mqtts://",
        ),
        (
            "a wrong Redis password",
            vec![("DDISCORD_REDIS_PASSWORD", "not-the-password")],
            "Redis refused the credentials",
        ),
        (
            "an untrusted Redis certificate",
            vec![("DDISCORD_REDIS_CA_FILE", untrusted.as_str())],
            "TLS handshake with Redis failed",
        ),
        (
            "redis:// to the TLS port",
            vec![("DDISCORD_REDIS_URL", redis_plain.as_str())],
            "use rediss://",
        ),
    ];
    for (what, changes, expected) in &cases {
        let out = worker_fails(&with(&base, changes)).await;
        assert!(
            out.contains(expected),
            "{what}: the error does not say `{expected}`:\n{out}"
        );
        assert_no_secret(what, &out);
        h.note(format!(
            "{what}: refused with a message that says what to fix"
        ));
    }

    // (i) The pipeline over TLS.
    // The worker first: it waits for the shard count ingest records, and ingest creates the
    // group's sessions before its first publish.
    let worker = h.spawn("state-worker", &["state-worker"], &with(&base, &[]));
    h.wait_http_ok(worker, "/healthz", Duration::from_secs(60))
        .await;
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
            &GUILDS.to_string(),
            "--events-per-sec",
            "40",
            "--record-frames",
        ],
        &env([("DDISCORD_FIXTURES", fixtures().display().to_string())]),
    );
    h.wait_sim(sim_proc, &sim).await;
    let mut ingest_env = with(&base, &[("DISCORD_TOKEN", "sim-token")]);
    ingest_env.insert("DDISCORD_GATEWAY_URL".into(), sim.ws_url());
    ingest_env.insert("DDISCORD_IDENTIFY_RESERVE".into(), "0".into());
    let ingest = h.spawn("ingest", &["ingest"], &ingest_env);
    h.wait_http_ok(ingest, "/readyz", Duration::from_secs(60))
        .await;
    h.wait_http_ok(worker, "/readyz", Duration::from_secs(60))
        .await;
    let conn = servers.redis().await;
    until(Duration::from_secs(60), || async {
        let n = common::reference::cached_guild_count(&conn, "dd:").await;
        (n == GUILDS as usize)
            .then_some(())
            .ok_or_else(|| format!("{n} of {GUILDS} guilds cached"))
    })
    .await
    .unwrap();
    h.note("every guild is cached over TLS");

    // (iii) The worker stops; a restart with a wrong password fails; events go on meanwhile;
    // with the right password again, nothing published in between is missing.
    assert!(h.procs[worker].term(Duration::from_secs(30)).await);
    let out = worker_fails(&with(
        &base,
        &[("DDISCORD_MESH_PASSWORD_FILE", wrong_mesh_password.as_str())],
    ))
    .await;
    assert!(out.contains("refused the credentials"), "{out}");
    let sent_before = sim.stats().await.unwrap().events_sent;
    until(Duration::from_secs(30), || async {
        let sent = sim.stats().await?.events_sent;
        (sent >= sent_before + 40).then_some(()).ok_or_else(|| {
            format!(
                "{} events sent while the worker is down",
                sent - sent_before
            )
        })
    })
    .await
    .unwrap();
    let worker = h.spawn("state-worker-again", &["state-worker"], &with(&base, &[]));
    h.wait_http_ok(worker, "/readyz", Duration::from_secs(60))
        .await;
    sim.set_rate(0.0).await;
    let diff = until(Duration::from_secs(90), || async {
        let frames = sim.frames().await;
        let diff = common::reference::compare(&frames, &conn, "dd:").await;
        if diff.is_empty() {
            Ok(())
        } else {
            Err(format!("{} entities differ: {diff}", diff.count()))
        }
    })
    .await;
    assert!(
        diff.is_ok(),
        "the cache differs from the reference: {diff:?}"
    );
    h.note("the cache equals the reference after the worker logged in again");

    // (iv) No password in any log (debug level), `--help` or `/metrics`.
    for i in [ingest, worker] {
        let addr = h.procs[i].http.clone().unwrap();
        let (status, metrics) = common::http(&addr, "GET", "/metrics").await.unwrap();
        assert_eq!(status, 200);
        assert_no_secret("/metrics", &metrics);
    }
    for p in &h.procs {
        assert_no_secret(&format!("the log of {}", p.name), &p.log());
    }
    let mut help_env = base.clone();
    help_env.insert("DDISCORD_MESH_PASSWORD".into(), MESH_PASSWORD.into());
    help_env.insert(
        "DDISCORD_MESH_URL".into(),
        format!("mqtts://u:{MESH_PASSWORD}@127.0.0.1:1"),
    );
    help_env.insert(
        "DDISCORD_REDIS_URL".into(),
        format!("rediss://u:{REDIS_PASSWORD}@127.0.0.1:1"),
    );
    for command in [
        &["ingest", "--help"][..],
        &["state-worker", "--help"],
        &["up", "--help"],
        &["tail", "--help"],
        &["dead", "--help"],
    ] {
        let out = std::process::Command::new(binary())
            .args(command)
            .env_clear()
            .envs(&help_env)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{command:?}: {text}");
        assert_no_secret(&format!("{command:?}"), &text);
    }
    // Credentials in the URL, refused (user `u` does not exist): the error shows the URL
    // with its password redacted.
    let in_url = servers
        .broker
        .url()
        .replace("mqtts://", &format!("mqtts://u:{MESH_PASSWORD}@"));
    let out = worker_fails(&with(
        &base,
        &[
            ("DDISCORD_MESH_URL", in_url.as_str()),
            ("DDISCORD_MESH_USERNAME", ""),
            ("DDISCORD_MESH_PASSWORD_FILE", ""),
        ],
    ))
    .await;
    assert!(out.contains("mqtts://u:***@"), "{out}");
    assert_no_secret("an error about a URL with a password", &out);
}
