//! The Kubernetes topology as it runs: `k8s/overlays/self-contained` rendered with
//! `kubectl kustomize`, each Deployment's container environment resolved and run as separate
//! `ddiscord ingest` ×2 and `ddiscord state-worker` ×2 processes, with only hosts, ports and
//! URLs pointed at the test's own Redis, Mosquitto and simulator (4 shards, the large guild,
//! churn). During traffic one ingest node and one worker are killed with SIGKILL (and replaced,
//! as the Deployment would), then the workers scale 2 → 3 → 1 (SIGTERM). Afterwards every
//! dispatch the simulator sent must be on the state tree and the cache must equal the
//! reference projection of the simulator's record.
//!
//! Three start orders: ingest first, workers first, both at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::delivery::Delivery;
use common::k8s::Container;
use common::mesh::MeshObserver;
use common::sim::SimControl;
use common::{Env, Harness, fixtures, free_addr, until};
use ddiscord_testkit::{Mosquitto, RedisServer};
use redis::aio::ConnectionManager;

const SHARDS: u32 = 4;
const RATE: &str = "60";
const PREFIX: &str = "dd:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    IngestFirst,
    WorkersFirst,
    Together,
}

/// Which Deployment's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Ingest,
    Worker,
}

struct Manifests {
    ingest: Container,
    worker: Container,
}

/// The rendered overlay's two Deployments, or `None` (with a message) without kubectl.
fn manifests() -> Option<Manifests> {
    let docs = common::k8s::render_or_skip("k8s/overlays/self-contained")?;
    let containers = common::k8s::containers(&docs).unwrap();
    let pick = |name: &str| {
        containers
            .iter()
            .find(|c| c.deployment == name)
            .cloned()
            .unwrap_or_else(|| panic!("no Deployment {name} in the rendered overlay"))
    };
    Some(Manifests {
        ingest: pick("ddiscord-ingest"),
        worker: pick("ddiscord-state-worker"),
    })
}

struct Cluster {
    h: Harness,
    redis: RedisServer,
    broker: Mosquitto,
    sim: SimControl,
    observer: MeshObserver,
    m: Manifests,
    conn: ConnectionManager,
    ingests: Vec<usize>,
    workers: Vec<usize>,
    recoveries: Vec<String>,
}

impl Cluster {
    /// The container's environment with only hosts, ports and URLs replaced, plus the short
    /// lease TTL.
    fn env_of(&self, c: &Container) -> Env {
        let mut env = c.env.clone();
        env.insert("DDISCORD_REDIS_URL".into(), self.redis.url());
        env.insert("DDISCORD_MESH_URL".into(), self.broker.url());
        env.insert("DDISCORD_HTTP_ADDR".into(), free_addr());
        env.insert("DDISCORD_LEASE_TTL_MS".into(), "2000".into());
        if c.args.first().map(String::as_str) == Some("ingest") {
            env.insert("DDISCORD_GATEWAY_URL".into(), self.sim.ws_url());
        }
        env
    }

    fn spawn_ingest(&mut self) -> usize {
        let env = self.env_of(&self.m.ingest);
        let args: Vec<&str> = self.m.ingest.args.iter().map(String::as_str).collect();
        let i = self
            .h
            .spawn(&format!("ingest-{}", self.h.procs.len()), &args, &env);
        self.ingests.push(i);
        i
    }

    fn spawn_worker(&mut self) -> usize {
        let env = self.env_of(&self.m.worker);
        let args: Vec<&str> = self.m.worker.args.iter().map(String::as_str).collect();
        let i = self
            .h
            .spawn(&format!("worker-{}", self.h.procs.len()), &args, &env);
        self.workers.push(i);
        i
    }

    /// Waits (bounded) until at least two running pods of `role` hold shards, kills one of them
    /// with SIGKILL, starts its replacement and records how long its shards took to recover.
    async fn kill_one_holder(&mut self, role: Role) {
        let (pods, group, what) = match role {
            Role::Ingest => (self.ingests.clone(), "ingest", "ingest"),
            Role::Worker => (self.workers.clone(), "group:state", "state"),
        };
        let mut split = Vec::new();
        for _ in 0..200 {
            split.clear();
            for i in &pods {
                if self.h.procs[*i].running() {
                    split.push((*i, self.shards_held(group, *i).await));
                }
            }
            if split.iter().filter(|(_, held)| !held.is_empty()).count() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.h
            .note(format!("{what} shards before the kill: {split:?}"));
        let (victim, held) = split
            .iter()
            .find(|(_, held)| !held.is_empty())
            .cloned()
            .expect("a pod holds shards");
        let baseline = self.high_water(role == Role::Worker);
        let at = Instant::now();
        self.h.procs[victim].kill9();
        self.h.note(format!(
            "SIGKILL {} (held {what} shards {held:?})",
            self.h.procs[victim].name
        ));
        match role {
            Role::Ingest => self.spawn_ingest(),
            Role::Worker => self.spawn_worker(),
        };
        let label = match role {
            Role::Ingest => "ingest SIGKILL",
            Role::Worker => "worker SIGKILL",
        };
        self.recovery(label, &held, at, &baseline, Duration::from_secs(15))
            .await;
    }

    /// Shards whose lease `{prefix}lease:{group}:{shard}` is held by process `i` (node ids
    /// are `host-pid-random`).
    async fn shards_held(&mut self, group: &str, i: usize) -> Vec<u32> {
        let pid = format!("-{}-", self.h.procs[i].pid());
        let mut out = Vec::new();
        for p in 0..SHARDS {
            let owner: Option<String> = redis::cmd("HGET")
                .arg(format!("{PREFIX}lease:{group}:{p}"))
                .arg("owner")
                .query_async(&mut self.conn)
                .await
                .unwrap();
            if owner.is_some_and(|o| o.contains(&pid)) {
                out.push(p);
            }
        }
        out
    }

    /// Highest (session, seq) per shard so far on the dispatch or state tree.
    fn high_water(&self, state: bool) -> HashMap<u32, (String, u64)> {
        let seen = self.observer.seen.lock().unwrap();
        let mut out: HashMap<u32, (String, u64)> = HashMap::new();
        for a in if state { &seen.state } else { &seen.dispatch } {
            let e = out.entry(a.shard).or_insert((a.session.clone(), 0));
            if e.0 != a.session || a.seq > e.1 {
                *e = (a.session.clone(), a.seq);
            }
        }
        out
    }

    /// Time from `at` until the state tree delivers, for each of `shards`, a dispatch past
    /// `baseline` (a later sequence or a new session); `None` when it never does in `timeout`.
    async fn recovery(
        &mut self,
        what: &str,
        shards: &[u32],
        at: Instant,
        baseline: &HashMap<u32, (String, u64)>,
        timeout: Duration,
    ) {
        let mut done: BTreeMap<u32, Option<Duration>> = shards.iter().map(|s| (*s, None)).collect();
        let deadline = at + timeout;
        while Instant::now() < deadline && done.values().any(Option::is_none) {
            {
                let seen = self.observer.seen.lock().unwrap();
                for a in seen.state.iter().rev().take_while(|a| a.at >= at) {
                    let Some(slot) = done.get_mut(&a.shard) else {
                        continue;
                    };
                    let past = baseline
                        .get(&a.shard)
                        .is_none_or(|(s, q)| *s != a.session || a.seq > *q);
                    if past {
                        let t = a.at - at;
                        if slot.is_none_or(|d| t < d) {
                            *slot = Some(t);
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = done
            .iter()
            .map(|(s, d)| match d {
                Some(d) => format!("shard {s} {:.1}s", d.as_secs_f64()),
                None => format!("shard {s} not within {timeout:?}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let line = format!(
            "{what}: recovery {}",
            if text.is_empty() {
                "(held no shard)".into()
            } else {
                text
            }
        );
        self.h.note(&line);
        self.recoveries.push(line);
    }
}

/// The scenarios share the machine's two cores: one at a time, also under `cargo test`.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn scenario(order: Order) {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(m) = manifests() else {
        return;
    };
    let token = m
        .ingest
        .env
        .get("DISCORD_TOKEN")
        .cloned()
        .expect("the rendered Secret gives ingest DISCORD_TOKEN");
    let redis = RedisServer::start().unwrap();
    let broker = Mosquitto::start().unwrap();
    let observer = MeshObserver::start(broker.port(), "discord").await;
    let conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let mut h = Harness::new();
    let sim = SimControl { addr: free_addr() };
    let sim_proc = h.spawn(
        "sim",
        &[
            "sim",
            "--bind",
            &sim.addr,
            "--shards",
            &SHARDS.to_string(),
            "--guilds",
            "4",
            "--large-guild",
            "--events-per-sec",
            RATE,
            "--max-concurrency",
            &SHARDS.to_string(),
            "--record-frames",
            "--seed",
            "7",
        ],
        &common::env([
            ("DDISCORD_FIXTURES", fixtures().display().to_string()),
            ("DDISCORD_SIM_TOKEN", token),
        ]),
    );
    h.wait_sim(sim_proc, &sim).await;
    let mut c = Cluster {
        h,
        redis,
        broker,
        sim,
        observer,
        m,
        conn,
        ingests: Vec::new(),
        workers: Vec::new(),
        recoveries: Vec::new(),
    };
    let started = Instant::now();

    match order {
        Order::IngestFirst => {
            c.spawn_ingest();
            c.spawn_ingest();
            let sim = c.sim.clone();
            until(Duration::from_secs(40), || async {
                let s = sim.stats().await?;
                let idle: Vec<u32> = s
                    .shards
                    .iter()
                    .filter(|s| s.identifies == 0)
                    .map(|s| s.shard)
                    .collect();
                if idle.is_empty() {
                    Ok(())
                } else {
                    Err(format!("shards {idle:?} not identified"))
                }
            })
            .await
            .unwrap();
            c.h.note("ingest identified every shard; starting the workers");
            c.spawn_worker();
            c.spawn_worker();
        }
        Order::WorkersFirst => {
            let a = c.spawn_worker();
            let b = c.spawn_worker();
            c.h.wait_http_ok(a, "/healthz", Duration::from_secs(30))
                .await;
            c.h.wait_http_ok(b, "/healthz", Duration::from_secs(30))
                .await;
            c.h.note("workers up; starting ingest");
            c.spawn_ingest();
            c.spawn_ingest();
        }
        Order::Together => {
            c.spawn_worker();
            c.spawn_ingest();
            c.spawn_worker();
            c.spawn_ingest();
        }
    }

    // Steady state: the state tree carries every shard.
    let observer = &c.observer;
    let steady = until(Duration::from_secs(25), || async {
        let seen = observer.seen.lock().unwrap();
        let mut shards: Vec<u32> = seen.state.iter().map(|a| a.shard).collect();
        shards.sort_unstable();
        shards.dedup();
        if shards.len() == SHARDS as usize {
            Ok(())
        } else {
            Err(format!("state tree carries shards {shards:?} of {SHARDS} ({} dispatches on the dispatch tree)", seen.dispatch.len()))
        }
    })
    .await;
    match &steady {
        Ok(()) => c.h.note("steady: the state tree carries every shard"),
        Err(e) => c.h.note(format!("no steady state: {e}")),
    }

    // kill -9 one ingest node once the two share the shards, then one worker that holds
    // shards; the Deployment starts a new pod for each.
    c.kill_one_holder(Role::Ingest).await;
    c.kill_one_holder(Role::Worker).await;

    // Scale the workers 2 → 3 → 1. With 4 shards the third is a hot standby (every member
    // keeps its fair share, ceil(4 / 3) = 2); it takes shards over when the others stop.
    let third = c.spawn_worker();
    c.h.wait_http_ok(third, "/readyz", Duration::from_secs(30))
        .await;
    c.h.note("scale to 3: the third worker joined the group");
    let mut live = Vec::new();
    for i in c.workers.clone() {
        if i != third && c.h.procs[i].running() {
            live.push(i);
        }
    }
    let mut held = Vec::new();
    for i in &live[..2] {
        held.extend(c.shards_held("group:state", *i).await);
    }
    let baseline = c.high_water(true);
    let at = Instant::now();
    for i in &live[..2] {
        let name = c.h.procs[*i].name.clone();
        let clean = c.h.procs[*i].term(Duration::from_secs(20)).await;
        c.h.note(format!(
            "SIGTERM {name}: {}",
            if clean { "exited" } else { "killed after 20 s" }
        ));
    }
    c.recovery(
        "scale 3 → 1 (SIGTERM ×2)",
        &held,
        at,
        &baseline,
        Duration::from_secs(15),
    )
    .await;

    // Stop the traffic and wait until the state tree caught up with the record (or went quiet).
    c.sim.set_rate(0.0).await;
    let record = c.sim.record().await;
    let sent = record.events().len();
    let observer = &c.observer;
    let quiet_since = Instant::now();
    let caught_up = until(Duration::from_secs(60), || async {
        let delivered = {
            let seen = observer.seen.lock().unwrap();
            let set: std::collections::HashSet<_> = seen
                .state
                .iter()
                .map(|a| (a.shard, a.session.clone(), a.seq))
                .collect();
            set.len()
        };
        let quiet = observer.quiet_for(quiet_since);
        // Caught up, or nothing more is coming (what is missing is lost).
        if delivered >= sent || quiet > Duration::from_secs(6) {
            Ok(())
        } else {
            Err(format!("{delivered} of {sent}"))
        }
    })
    .await;
    if let Err(e) = &caught_up {
        c.h.note(format!("not caught up: {e}"));
    }

    let record = c.sim.record().await;
    let frames = c.sim.frames().await;
    let (mesh, state) = {
        let seen = c.observer.seen.lock().unwrap();
        (
            Delivery::compare("dispatch tree discord/#", &record, &seen.dispatch),
            Delivery::compare("state tree discord-state/#", &record, &seen.state),
        )
    };
    let cache = common::reference::compare(&frames, &c.conn, PREFIX).await;
    let takeovers = c.h.log_lines_with("taken over");
    eprintln!("---- cluster figures ({order:?}) ----");
    eprintln!(
        "events sent {} (identifies {}, resumes {}), elapsed {:.1}s",
        record.events().len(),
        record.shards.iter().map(|s| s.identifies).sum::<u64>(),
        record.shards.iter().map(|s| s.resumes).sum::<u64>(),
        started.elapsed().as_secs_f64()
    );
    eprintln!("{mesh}");
    eprintln!("{state}");
    for r in &c.recoveries {
        eprintln!("{r}");
    }
    eprintln!("cache vs reference: {cache}");

    let mut failures = Vec::new();
    if !state.lost.is_empty() {
        failures.push(format!(
            "dispatches sent but never on the state tree: {state}"
        ));
    }
    // First deliveries in sequence order per session on both trees (redeliveries after the
    // kills are duplicates, counted apart).
    if !mesh.misordered.is_empty() {
        failures.push(format!("the dispatch tree is out of order: {mesh}"));
    }
    if !state.misordered.is_empty() {
        failures.push(format!("the state tree is out of order: {state}"));
    }
    if !cache.is_empty() {
        failures.push(format!(
            "the cache differs from the reference projection in {} entities: {cache}",
            cache.count()
        ));
    }
    if let Err(e) = steady {
        failures.push(format!("the state tree never carried every shard: {e}"));
    }
    if !takeovers.is_empty() {
        failures.push(format!(
            "durable sessions taken over: {}",
            common::first(&takeovers, 5)
        ));
    }
    assert!(failures.is_empty(), "{order:?}:\n{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ingest_started_first() {
    scenario(Order::IngestFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_workers_started_first() {
    scenario(Order::WorkersFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_started_together() {
    scenario(Order::Together).await;
}
