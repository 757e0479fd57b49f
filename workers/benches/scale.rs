//! Projection as the cache grows: 10k -> 100k -> 1M cached members in one private Redis.
//!
//! `cargo bench -p ddiscord-workers --bench scale` (run by `scripts/bench scale`, which plots
//! the CSV). Env: `SCALE_CSV` (default `docs/bench/projection_members.csv` under the
//! workspace), `SCALE_GUILDS` (checkpoints in guilds, default `1,3,11,32,105`),
//! `SCALE_MIX_EVENTS` (default 20000), `SCALE_BUDGET_SECS` (default 170 per pass: no guild is
//! added once the timed work has taken this long), `SCALE_RUNS` (passes, default 1, each from
//! an empty Redis after `FLUSHALL`; each row says its pass).
//!
//! Guilds are clones of the captured 9,593-member GUILD_CREATE: the guild id and the ids of its
//! members, channels, roles, emojis, stickers and threads are rewritten to fresh snowflakes
//! (every string equal to one of those ids is replaced), nothing else changes. Guilds are
//! applied one `Projector::apply` each, in one session with contiguous sequences, until a
//! checkpoint; 105 guilds are 1,007,265 members.
//!
//! At each checkpoint:
//! - **fill**: GUILD_CREATE applies since the previous checkpoint; the clock runs around the
//!   `apply` calls only (cloning and rewriting a guild is done before its clock starts);
//! - **memory**: `INFO memory` `used_memory` minus its value before the first guild, minus what
//!   the dispatch mixes of earlier checkpoints added (each mix's own delta), per cached member;
//! - **mix**: the same number of dispatches every time, built before the clock starts from every
//!   fixture dispatch except READY, GUILD_CREATE and the removals (GUILD_DELETE,
//!   GUILD_MEMBER_REMOVE, GUILD_BAN_ADD), with `guild_id` and the user ids rewritten to a random
//!   cached guild and one of its members (seeded), applied with `Projector::apply_batch` in
//!   batches of 256; the clock runs around the `apply_batch` calls only.
//!
//! The baseline measured in the same run is the first checkpoint of the pass: every later row
//! is also printed as a ratio to it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::cast_precision_loss
)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ddiscord::Envelope;
use ddiscord::cache::Keys;
use ddiscord::envelope::{EnvelopeMeta, wrap};
use ddiscord_testkit::RedisServer;
use ddiscord_testkit::bench::{env_or, write_csv};
use ddiscord_workers::{Outcome, ProjectionConfig, Projector};
use serde_json::Value;

/// Snowflake timestamp part of the rewritten ids (2020-09-13, ms since Discord's epoch).
const BASE: u64 = (1_600_000_000_000 - 1_420_070_400_000) << 22;
const CAPTURE_SESSION: &str = "scale";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(ddiscord_testkit::fixtures_dir().join(name)).unwrap()
}

/// The captured guild and the ids a clone gets fresh values for.
struct Template {
    frame: Value,
    /// Old id -> index; the clone `k` gets `BASE + (k << 20) + index`.
    ids: HashMap<String, u64>,
    /// Indices (into `ids`) of the members' user ids, in member order.
    members: Vec<u64>,
}

impl Template {
    fn load() -> Self {
        let frame: Value = serde_json::from_str(&fixture("guild_create_large.json")).unwrap();
        let d = &frame["d"];
        let mut ids = HashMap::new();
        let mut add = |id: &Value| {
            let id = id.as_str().unwrap().to_owned();
            let next = ids.len() as u64;
            *ids.entry(id).or_insert(next)
        };
        add(&d["id"]);
        let members = d["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| add(&m["user"]["id"]))
            .collect();
        for list in ["channels", "roles", "emojis", "stickers", "threads"] {
            for item in d[list].as_array().into_iter().flatten() {
                add(&item["id"]);
            }
        }
        assert!(ids.len() < 1 << 20);
        Self {
            frame,
            ids,
            members,
        }
    }

    fn id(k: u64, index: u64) -> u64 {
        BASE + (k << 20) + index
    }

    /// Clone `k`: its frame (sequence `seq`), its guild id and its members' user ids.
    fn clone_guild(&self, k: u64, seq: u64) -> (Envelope, u64, Vec<u64>) {
        let mut frame = self.frame.clone();
        remap(&mut frame, &|s| self.ids.get(s).map(|i| Self::id(k, *i)));
        frame["s"] = Value::from(seq);
        let members = self.members.iter().map(|i| Self::id(k, *i)).collect();
        (envelope(&frame), Self::id(k, 0), members)
    }
}

/// Replaces every string for which `f` gives a new id.
fn remap(v: &mut Value, f: &dyn Fn(&str) -> Option<u64>) {
    match v {
        Value::String(s) => {
            if let Some(n) = f(s) {
                *s = n.to_string();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| remap(x, f)),
        Value::Object(o) => o.values_mut().for_each(|x| remap(x, f)),
        _ => {}
    }
}

fn envelope(frame: &Value) -> Envelope {
    let meta = EnvelopeMeta {
        shard: 0,
        session: Some(CAPTURE_SESSION),
        received_ms: 1,
    };
    Envelope::parse(wrap(&meta, &serde_json::to_vec(frame).unwrap()).unwrap()).unwrap()
}

/// xorshift64*: a seeded choice of guild and member, no dependency needed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// Fixture dispatches the mix is made of (removals left out so the cache only grows).
fn mix_templates() -> Vec<Value> {
    let mut out = Vec::new();
    for f in ["events_v6_upgraded.jsonl", "events_v10.jsonl"] {
        for line in fixture(f).lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let t = v["t"].as_str().unwrap_or("");
            if v["op"] == 0
                && !matches!(
                    t,
                    "READY"
                        | "GUILD_CREATE"
                        | "GUILD_DELETE"
                        | "GUILD_MEMBER_REMOVE"
                        | "GUILD_BAN_ADD"
                )
            {
                out.push(v);
            }
        }
    }
    out
}

/// `n` mix dispatches aimed at random cached guilds and members, sequences from `seq`.
fn mix(
    templates: &[Value],
    guilds: &[(u64, Vec<u64>)],
    rng: &mut Rng,
    n: usize,
    seq: &mut u64,
) -> Vec<Envelope> {
    (0..n)
        .map(|i| {
            let mut f = templates[i % templates.len()].clone();
            let (g, members) = &guilds[rng.below(guilds.len())];
            let user = members[rng.below(members.len())].to_string();
            let d = &mut f["d"];
            if d.get("guild_id").is_some_and(Value::is_string) {
                d["guild_id"] = Value::from(g.to_string());
            }
            for path in [
                &["user", "id"][..],
                &["author", "id"],
                &["member", "user", "id"],
                &["user_id"],
            ] {
                set_string(d, path, &user);
            }
            *seq += 1;
            f["s"] = Value::from(*seq);
            envelope(&f)
        })
        .collect()
}

/// Sets the string at `path` in `v` to `to`, if there is a string there.
fn set_string(v: &mut Value, path: &[&str], to: &str) {
    let mut at = v;
    for p in path {
        match at.get_mut(*p) {
            Some(next) => at = next,
            None => return,
        }
    }
    if at.is_string() {
        *at = Value::from(to);
    }
}

async fn used_memory(conn: &mut redis::aio::ConnectionManager) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Applied dispatches and their writes; a rejected one (a malformed rewrite) stops the run.
fn writes_of(outcomes: &[Outcome]) -> (usize, usize) {
    outcomes.iter().fold((0, 0), |(n, w), o| match o {
        Outcome::Applied { writes } => (n + 1, w + writes),
        Outcome::Rejected(why) => panic!("a mix dispatch was rejected: {why}"),
        Outcome::Gap => panic!("a mix dispatch was held for a gap in its sequences"),
        _ => (n, w),
    })
}

struct Row {
    run: u32,
    members: usize,
    guilds: usize,
    used_memory: i64,
    bytes_per_member: f64,
    fill_events_per_s: f64,
    fill_writes_per_s: f64,
    fill_members_per_s: f64,
    mix_events: usize,
    mix_events_per_s: f64,
    mix_writes_per_s: f64,
}

fn csv_path() -> PathBuf {
    std::env::var_os("SCALE_CSV").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/bench/projection_members.csv"),
        PathBuf::from,
    )
}

#[tokio::main]
async fn main() {
    let checkpoints: Vec<usize> = std::env::var("SCALE_GUILDS")
        .unwrap_or_else(|_| "1,3,11,32,105".to_owned())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let mix_events: usize = env_or("SCALE_MIX_EVENTS", 20_000);
    let budget = Duration::from_secs(env_or("SCALE_BUDGET_SECS", 170));

    let runs: u32 = env_or("SCALE_RUNS", 1);

    let server = RedisServer::start().unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    // The state worker's response timeout: one GUILD_CREATE script holds Redis for a while.
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(ddiscord_workers::SCRIPT_RESPONSE_TIMEOUT));
    let mut conn = redis::aio::ConnectionManager::new_with_config(client, config)
        .await
        .unwrap();
    let template = Template::load();
    let templates = mix_templates();
    let mut rows: Vec<Row> = Vec::new();
    for run in 1..=runs {
        let _: () = redis::cmd("FLUSHALL")
            .arg("SYNC")
            .query_async(&mut conn)
            .await
            .unwrap();
        let pass = Pass {
            run,
            checkpoints: &checkpoints,
            mix_events,
            budget,
            template: &template,
            templates: &templates,
        };
        rows.extend(pass.run(conn.clone()).await);
    }
    write_rows(&rows);
}

/// One pass over the checkpoints, from an empty Redis.
struct Pass<'a> {
    run: u32,
    checkpoints: &'a [usize],
    mix_events: usize,
    budget: Duration,
    template: &'a Template,
    templates: &'a [Value],
}

impl Pass<'_> {
    async fn run(&self, mut conn: redis::aio::ConnectionManager) -> Vec<Row> {
        let Self {
            run,
            checkpoints,
            mix_events,
            budget,
            template,
            templates,
        } = *self;
        let mut projector =
            Projector::new(conn.clone(), Keys::default(), ProjectionConfig::default());
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let used0 = used_memory(&mut conn).await;
        let mut mix_added = 0i64;
        let mut seq = 0u64;
        let mut guilds: Vec<(u64, Vec<u64>)> = Vec::new();
        let mut timed = Duration::ZERO;
        let mut rows: Vec<Row> = Vec::new();
        for &target in checkpoints {
            let (mut fill_t, mut fill_events, mut fill_writes, mut fill_members) =
                (Duration::ZERO, 0usize, 0usize, 0usize);
            while guilds.len() < target && timed < budget {
                seq += 1;
                let (env, g, members) = template.clone_guild(guilds.len() as u64, seq);
                let t0 = Instant::now();
                let out = projector.apply(&env).await.unwrap();
                let dt = t0.elapsed();
                drop(env);
                let Outcome::Applied { writes } = out else {
                    panic!("GUILD_CREATE not applied: {out:?}");
                };
                fill_t += dt;
                timed += dt;
                fill_events += 1;
                fill_writes += writes;
                fill_members += members.len();
                guilds.push((g, members));
            }
            if fill_events == 0 {
                println!(
                    "time budget of {budget:?} spent: no checkpoint beyond {} guilds",
                    guilds.len()
                );
                break;
            }
            let members: usize = guilds.iter().map(|(_, m)| m.len()).sum();
            let used = used_memory(&mut conn).await;
            let member_bytes = used - used0 - mix_added;

            let envs = mix(templates, &guilds, &mut rng, mix_events, &mut seq);
            let before_mix = used_memory(&mut conn).await;
            let t0 = Instant::now();
            let (mut applied, mut writes) = (0, 0);
            for chunk in envs.chunks(256) {
                let (n, w) = writes_of(&projector.apply_batch(chunk).await.unwrap());
                applied += n;
                writes += w;
            }
            let mix_t = t0.elapsed();
            timed += mix_t;
            mix_added += used_memory(&mut conn).await - before_mix;
            assert!(applied > 0, "no mix dispatch applied");

            let fs = fill_t.as_secs_f64();
            let ms = mix_t.as_secs_f64();
            let row = Row {
                run,
                members,
                guilds: guilds.len(),
                used_memory: member_bytes,
                bytes_per_member: member_bytes as f64 / members as f64,
                fill_events_per_s: fill_events as f64 / fs,
                fill_writes_per_s: fill_writes as f64 / fs,
                fill_members_per_s: fill_members as f64 / fs,
                mix_events: envs.len(),
                mix_events_per_s: envs.len() as f64 / ms,
                mix_writes_per_s: writes as f64 / ms,
            };
            let base = rows.first().unwrap_or(&row);
            println!(
                "run {run}: {:>9} members ({:>3} guilds): {:>6.0} B/member ({:.2}x first) | fill {:>7.0} writes/s {:>7.0} members/s ({:.2}x first) | mix {:>6.0} events/s {:>7.0} writes/s ({:.2}x first; {applied} of {} applied, the rest are not projected)",
                row.members,
                row.guilds,
                row.bytes_per_member,
                row.bytes_per_member / base.bytes_per_member,
                row.fill_writes_per_s,
                row.fill_members_per_s,
                row.fill_writes_per_s / base.fill_writes_per_s,
                row.mix_events_per_s,
                row.mix_writes_per_s,
                row.mix_events_per_s / base.mix_events_per_s,
                row.mix_events,
            );
            rows.push(row);
        }
        rows
    }
}

fn write_rows(rows: &[Row]) {
    let mut csv = String::from(
        "run,members,guilds,used_memory_bytes,bytes_per_member,fill_events_per_s,fill_writes_per_s,fill_members_per_s,mix_events,mix_events_per_s,mix_writes_per_s\n",
    );
    for r in rows {
        writeln!(
            csv,
            "{},{},{},{},{:.1},{:.2},{:.0},{:.0},{},{:.0},{:.0}",
            r.run,
            r.members,
            r.guilds,
            r.used_memory,
            r.bytes_per_member,
            r.fill_events_per_s,
            r.fill_writes_per_s,
            r.fill_members_per_s,
            r.mix_events,
            r.mix_events_per_s,
            r.mix_writes_per_s
        )
        .unwrap();
    }
    write_csv(&csv_path(), &csv).unwrap();
}
