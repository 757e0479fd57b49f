//! The live summary of `ddiscord up`: redrawn in place on a terminal, a line every few seconds
//! otherwise.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use ddiscord::cache::Keys;
use ddiscord_ingest::IngestNode;
use ddiscord_sim::SimHandle;
use metrics_exporter_prometheus::PrometheusHandle;
use redis::aio::ConnectionManager;

use super::metrics_text::{quantile, sum};

/// What does not change while `up` runs.
#[derive(Debug)]
pub struct Info {
    /// Where the shards connect.
    pub gateway: String,
    /// Mesh URL scripts connect to.
    pub mesh_url: String,
    /// Redis URL scripts read the cache from.
    pub redis_url: String,
    /// Health and metrics address.
    pub http_addr: SocketAddr,
    /// Cache key prefix.
    pub key_prefix: String,
    /// The process id of the private `redis-server`, when `up` started one.
    pub redis_pid: Option<u32>,
    /// Where log lines go, when to a file.
    pub log_file: Option<PathBuf>,
}

/// Whether the summary is redrawn in place: standard output is a terminal and `plain` is off.
pub fn is_live(plain: bool) -> bool {
    !plain && std::io::stdout().is_terminal()
}

/// One reading of the pipeline.
#[derive(Debug, Default)]
pub struct Snapshot {
    at: Option<Instant>,
    sent: u64,
    published: f64,
    applied: f64,
    ignored: f64,
    lag_p50_ms: Option<f64>,
    lag_p99_ms: Option<f64>,
    shards_held: Vec<u32>,
    shard_count: u32,
    ready: bool,
    resumes: f64,
    identifies: f64,
    guilds: u64,
    members: u64,
    redis_keys: u64,
}

impl Snapshot {
    /// Reads counters, shard ownership and cache sizes.
    pub async fn collect(
        prometheus: Option<&PrometheusHandle>,
        sim: Option<&SimHandle>,
        ingest: &IngestNode,
        redis: Option<&mut ConnectionManager>,
        key_prefix: &str,
    ) -> Self {
        let text = prometheus.map(PrometheusHandle::render).unwrap_or_default();
        let mut s = Self {
            at: Some(Instant::now()),
            sent: sim.map_or(0, SimHandle::generated),
            published: sum(&text, "ddiscord_ingest_events_out_total"),
            applied: sum(&text, "ddiscord_state_events_applied_total"),
            ignored: sum(&text, "ddiscord_state_events_ignored_total"),
            lag_p50_ms: quantile(&text, "ddiscord_state_lag_ms", "0.5"),
            lag_p99_ms: quantile(&text, "ddiscord_state_lag_ms", "0.99"),
            shards_held: ingest.held(),
            shard_count: ingest.shard_count(),
            ready: ingest.status().is_ready(),
            resumes: sum(&text, "ddiscord_ingest_resumes_total"),
            identifies: sum(&text, "ddiscord_ingest_identifies_total"),
            ..Self::default()
        };
        if let Some(conn) = redis {
            let keys = Keys::new(key_prefix);
            let mut pipe = redis::pipe();
            for shard in 0..s.shard_count {
                pipe.hkeys(keys.shard_guilds(shard));
            }
            let guild_lists: Vec<Vec<u64>> = pipe.query_async(conn).await.unwrap_or_default();
            let guilds: Vec<u64> = guild_lists.into_iter().flatten().collect();
            s.guilds = guilds.len() as u64;
            let mut pipe = redis::pipe();
            for g in &guilds {
                pipe.hlen(keys.guild_members(*g));
            }
            let counts: Vec<u64> = pipe.query_async(conn).await.unwrap_or_default();
            s.members = counts.iter().sum();
            s.redis_keys = redis::cmd("DBSIZE").query_async(conn).await.unwrap_or(0);
        }
        s
    }
}

/// Draws snapshots.
#[derive(Debug)]
pub struct Screen {
    info: Info,
    live: bool,
    lines: usize,
    last: Option<Snapshot>,
    last_plain: Option<Instant>,
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"))
}

fn rate(now: f64, before: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        (now - before).max(0.0) / secs
    } else {
        0.0
    }
}

impl Screen {
    /// A screen that redraws in place when standard output is a terminal and `plain` is false.
    pub fn new(info: Info, plain: bool) -> Self {
        let live = is_live(plain);
        let screen = Self {
            info,
            live,
            lines: 0,
            last: None,
            last_plain: None,
        };
        screen.header();
        screen
    }

    fn header(&self) {
        let i = &self.info;
        println!("DDiscord is up.");
        println!("  gateway   {}", i.gateway);
        println!("  mesh      {}", i.mesh_url);
        match i.redis_pid {
            Some(pid) => println!(
                "  redis     {} (key prefix {}; private redis-server, pid {pid})",
                i.redis_url, i.key_prefix
            ),
            None => println!("  redis     {} (key prefix {})", i.redis_url, i.key_prefix),
        }
        println!("  metrics   http://{}/metrics", i.http_addr);
        if let Some(log) = &i.log_file {
            println!("  logs      {}", log.display());
        }
        println!(
            "Attach a script in another terminal (after `pip install ./sdk-python`, or `npm install ./sdk-node` for Node):"
        );
        println!(
            "  DDISCORD_MESH_URL={} DDISCORD_REDIS_URL={} python examples/python/moderation.py",
            i.mesh_url, i.redis_url
        );
        println!(
            "  DDISCORD_MESH_URL={} DDISCORD_REDIS_URL={} node examples/node/moderation.js",
            i.mesh_url, i.redis_url
        );
        println!(
            "  DDISCORD_MESH_URL={} cargo run -p ddiscord-cli -- tail 'discord-state/*/*/MESSAGE_*'",
            i.mesh_url
        );
        println!();
    }

    /// Draws one snapshot.
    pub fn draw(&mut self, s: &Snapshot) {
        let secs = match (&self.last, s.at) {
            (Some(l), Some(now)) => l.at.map_or(0.0, |t| now.duration_since(t).as_secs_f64()),
            _ => 0.0,
        };
        let before = self.last.as_ref();
        let sent_rate = rate(s.sent as f64, before.map_or(0.0, |b| b.sent as f64), secs);
        let pub_rate = rate(s.published, before.map_or(0.0, |b| b.published), secs);
        let applied_rate = rate(s.applied, before.map_or(0.0, |b| b.applied), secs);
        let lines = [
            format!(
                "shards   {}/{} held  {}  identifies {:.0}  resumes {:.0}",
                s.shards_held.len(),
                s.shard_count,
                if s.ready { "ready" } else { "starting" },
                s.identifies,
                s.resumes
            ),
            format!(
                "events   sent {:>9} ({:>7.0}/s)   published {:>9.0} ({:>7.0}/s)   applied {:>9.0} ({:>7.0}/s)",
                s.sent, sent_rate, s.published, pub_rate, s.applied, applied_rate
            ),
            format!(
                "backlog  {:>9.0} not yet applied   ignored {:.0}   lag ingest→applied p50 {} p99 {}",
                (s.published - s.applied - s.ignored).max(0.0),
                s.ignored,
                ms(s.lag_p50_ms),
                ms(s.lag_p99_ms)
            ),
            format!(
                "cache    guilds {}   members {}   redis keys {}",
                s.guilds, s.members, s.redis_keys
            ),
        ];
        let mut out = std::io::stdout().lock();
        if self.live {
            if self.lines > 0 {
                // Move up over the previous drawing and clear it.
                let _ = write!(out, "\x1b[{}F\x1b[J", self.lines);
            }
            for l in &lines {
                let _ = writeln!(out, "{l}");
            }
            self.lines = lines.len();
        } else if self
            .last_plain
            .is_none_or(|t| t.elapsed().as_secs_f64() >= 5.0)
        {
            let _ = writeln!(out, "{}", lines.join(" | "));
            self.last_plain = s.at;
        }
        let _ = out.flush();
        self.last = Some(Snapshot {
            at: s.at,
            sent: s.sent,
            published: s.published,
            applied: s.applied,
            ..Snapshot::default()
        });
    }

    /// Leaves the display with a final message.
    pub fn finish(&mut self, message: &str) {
        println!("{message}");
    }
}
