//! Shared test setup: a simulator, Redis, Mosquitto, nodes and a mesh collector.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ddiscord::Envelope;
use ddiscord::mesh::{Mesh, MeshConfig};
use ddiscord::topic::TopicPattern;
use ddiscord_ingest::{IngestConfig, IngestNode};
use ddiscord_sim::{SimConfig, SimHandle, Simulator};
use ddiscord_testkit::{Mosquitto, RedisServer};
use futures::StreamExt;

pub const TOKEN: &str = "sim-token";

pub struct Env {
    pub redis: RedisServer,
    pub broker: Mosquitto,
    pub sim: SimHandle,
}

/// Mosquitto with the shipped configuration (room for a 3 MB GUILD_CREATE).
pub fn broker() -> Mosquitto {
    Mosquitto::start().unwrap()
}

pub async fn env(shards: u32, rate: f64) -> Env {
    env_with(SimConfig {
        shards,
        events_per_sec: rate,
        max_concurrency: 16,
        heartbeat_interval_ms: 2000,
        ..SimConfig::default()
    })
    .await
}

pub async fn env_with(mut sim: SimConfig) -> Env {
    if sim.fixtures.is_none() {
        sim.fixtures = Some(ddiscord_testkit::fixtures_dir());
    }
    let redis = RedisServer::start().unwrap();
    let broker = broker();
    let sim = Simulator::start(sim).await.unwrap();
    Env { redis, broker, sim }
}

impl Env {
    pub fn node_config(&self, node: &str) -> IngestConfig {
        let mut c = IngestConfig::new(TOKEN, self.redis.url(), self.broker.url());
        c.gateway_url = Some(self.sim.ws_url());
        c.node_id = node.to_owned();
        c.lease_ttl = Duration::from_millis(1500);
        c.identify_reserve = 0;
        c.session_persist = Duration::from_millis(200);
        c
    }

    pub async fn node(&self, node: &str) -> IngestNode {
        IngestNode::start(self.node_config(node)).await.unwrap()
    }

    pub async fn mesh(&self) -> Mesh {
        let mut c = MeshConfig::new(self.broker.url());
        c.max_payload_bytes = ddiscord_ingest::DEFAULT_MAX_PAYLOAD_BYTES;
        Mesh::connect(c).await.unwrap()
    }

    /// Accepted IDENTIFYs per shard, from the simulator's record.
    pub fn identifies(&self) -> Vec<u64> {
        self.sim
            .record()
            .shards
            .iter()
            .map(|s| s.identifies)
            .collect()
    }

    /// Every shard has connected at least once (IDENTIFY or RESUME accepted).
    pub fn all_shards_connected(&self) -> bool {
        self.sim
            .record()
            .shards
            .iter()
            .all(|s| s.identifies + s.resumes > 0)
    }

    pub fn resumes(&self) -> u64 {
        self.sim.record().shards.iter().map(|s| s.resumes).sum()
    }
}

/// Waits until `cond` holds (checking every 25 ms) or panics after `secs`.
pub async fn until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let r = tokio::time::timeout(Duration::from_secs(secs), async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    assert!(r.is_ok(), "timed out after {secs} s waiting for: {what}");
}

/// Everything received on a pattern.
#[derive(Clone, Default)]
pub struct Collector {
    pub messages: Arc<Mutex<Vec<(String, Bytes)>>>,
}

impl Collector {
    pub async fn start(mesh: &Mesh, pattern: &str) -> Collector {
        let mut sub = mesh
            .subscribe(&TopicPattern::new(pattern).unwrap())
            .await
            .unwrap();
        let c = Collector::default();
        let m = c.messages.clone();
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                m.lock().unwrap().push((msg.topic, msg.payload));
            }
        });
        c
    }

    pub fn len(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    pub fn topics(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Sequences received per session.
    pub fn sequences(&self) -> BTreeMap<String, BTreeSet<u64>> {
        let mut out: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for (_, p) in self.messages.lock().unwrap().iter() {
            let e = Envelope::parse(p.clone()).unwrap();
            if let (Some(s), Some(seq)) = (e.session(), e.sequence()) {
                out.entry(s.to_owned()).or_default().insert(seq);
            }
        }
        out
    }
}

/// Highest sequence the simulator sent per session.
pub fn sim_max_seq(sim: &SimHandle) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for d in sim.record().dispatches {
        let e = out.entry(d.session_id).or_default();
        *e = (*e).max(d.seq);
    }
    out
}

/// Stops traffic, waits until every sequence the simulator sent has reached the mesh, and
/// asserts there is no gap in any session.
pub async fn assert_no_gap(env: &Env, collector: &Collector, secs: u64) {
    env.sim.set_rate(0.0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let want = sim_max_seq(&env.sim);
    until(secs, "every sent sequence on the mesh", || {
        let got = collector.sequences();
        want.iter()
            .all(|(s, max)| got.get(s).is_some_and(|seqs| seqs.contains(max)))
    })
    .await;
    let got = collector.sequences();
    for (session, max) in &want {
        let seqs = &got[session];
        let missing: Vec<u64> = (1..=*max).filter(|s| !seqs.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "session {session}: sequences missing on the mesh: {missing:?}"
        );
    }
}
