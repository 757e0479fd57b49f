//! Starting, driving and stopping a simulator instance.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::clock::SimClock;
use crate::config::SimConfig;
use crate::fixtures::{self, Fixtures};
use crate::record::{RecordSnapshot, ShardCounts};
use crate::state::{ConnCommand, Shared, lock};
use crate::traffic::Traffic;
use crate::world::World;
use crate::{SimError, SimErrorKind, replay};

/// Most generated dispatches per 10 ms tick (a backlog beyond that is skipped, not queued).
const MAX_PER_TICK: u64 = 50_000;

/// Entry point of the programmatic API.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Loads the fixtures, builds the world, binds `config.bind` and starts serving the
    /// gateway, the REST endpoints and the control API, plus the traffic (or replay) task.
    ///
    /// # Errors
    /// [`SimError`] if the configuration is invalid, the fixtures are missing or broken, or the
    /// address cannot be bound.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate()?;
        let dir = fixtures::locate(config.fixtures.as_deref())?;
        let large = config.large_guild;
        let guilds = config.guilds;
        let world = tokio::task::spawn_blocking(move || {
            let f = Fixtures::load(&dir, large)?;
            World::build(&f, guilds).ok_or_else(|| SimError::new(SimErrorKind::FixtureJson {
                path: dir.clone(),
                what: "the captures lack a READY, GUILD_CREATE, MESSAGE_CREATE, reaction, thread, voice state or role template".to_owned(),
            }))
        })
        .await
        .map_err(|e| SimError::with_source(SimErrorKind::WorldTask, e))??;
        let replay_events = match &config.replay {
            Some(r) => Some((r.shard, replay::load(&r.path)?)),
            None => None,
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|e| SimError::with_source(SimErrorKind::Bind { addr: config.bind }, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::with_source(SimErrorKind::Bind { addr: config.bind }, e))?;
        let seed = config.seed;
        let source = if config.pregenerated > 0 && replay_events.is_none() {
            let (count, shards, world) = (config.pregenerated, config.shards, world.clone());
            let pool = tokio::task::spawn_blocking(move || pregenerate(world, seed, shards, count))
                .await
                .map_err(|e| SimError::with_source(SimErrorKind::WorldTask, e))?;
            tracing::info!(dispatches = pool.len(), "pre-generated the traffic");
            Source::Pool { pool, next: 0 }
        } else {
            Source::Live(Traffic::new(seed))
        };
        let shared = Arc::new(Shared::new(config, world, format!("ws://{addr}")));
        let (stop_tx, stop_rx) = watch::channel(false);
        let app = crate::control::router(Arc::clone(&shared));
        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_stop.wait_for(|s| *s).await;
                })
                .await
        });
        let mut tasks = Vec::new();
        match replay_events {
            Some((shard, events)) => tasks.push(tokio::spawn(replay_task(
                Arc::clone(&shared),
                shard,
                events,
                stop_rx.clone(),
            ))),
            None => tasks.push(tokio::spawn(traffic_task(
                Arc::clone(&shared),
                source,
                stop_rx.clone(),
            ))),
        }
        tracing::info!(%addr, "gateway simulator listening");
        Ok(SimHandle {
            shared,
            addr,
            stop: stop_tx,
            server: Some(server),
            tasks,
        })
    }
}

/// A dispatch generated ahead of time ([`SimConfig::pregenerated`]).
struct Pregenerated {
    shard: u32,
    name: &'static str,
    guild_id: u64,
    data: String,
}

/// Where the traffic task takes its dispatches from.
enum Source {
    /// Generated one by one against the live world.
    Live(Traffic),
    /// Generated before serving, sent in a loop.
    Pool {
        pool: Vec<Pregenerated>,
        next: usize,
    },
}

/// Generates `count` dispatches against a copy of the world.
fn pregenerate(mut world: World, seed: u64, shards: u32, count: usize) -> Vec<Pregenerated> {
    let mut traffic = Traffic::new(seed);
    let mut pool = Vec::with_capacity(count);
    while pool.len() < count {
        let Some(ev) = traffic.next_event(&mut world) else {
            break;
        };
        pool.push(Pregenerated {
            shard: crate::world::shard_of(ev.guild_id, shards),
            name: ev.name,
            guild_id: ev.guild_id,
            data: ev.data.to_string(),
        });
    }
    pool
}

/// Sends up to `n` dispatches from `source`.
fn emit(shared: &Shared, source: &mut Source, n: u64) {
    match source {
        Source::Live(traffic) => {
            let count = shared.cfg.shards;
            let mut world = lock(&shared.world);
            for _ in 0..n {
                let Some(ev) = traffic.next_event(&mut world) else {
                    break;
                };
                let shard = crate::world::shard_of(ev.guild_id, count);
                if !shared.has_room(shard) {
                    shared.shed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                shared.push_to_shard(shard, ev.name, Some(ev.guild_id), &ev.data.to_string());
                shared.generated.fetch_add(1, Ordering::Relaxed);
            }
        }
        Source::Pool { pool, next } => {
            for _ in 0..n {
                let Some(ev) = pool.get(*next) else {
                    break;
                };
                *next = (*next + 1) % pool.len();
                if !shared.has_room(ev.shard) {
                    shared.shed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                shared.push_to_shard(ev.shard, ev.name, Some(ev.guild_id), &ev.data);
                shared.generated.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn traffic_task(shared: Arc<Shared>, mut source: Source, mut stop: watch::Receiver<bool>) {
    let started = Instant::now();
    let duration = shared.cfg.duration_ms.map(Duration::from_millis);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut rate = shared.rate();
    let mut since = Instant::now();
    let mut emitted = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if duration.is_some_and(|d| started.elapsed() >= d) {
            return;
        }
        let now_rate = shared.rate();
        if now_rate.to_bits() != rate.to_bits() {
            rate = now_rate;
            since = Instant::now();
            emitted = 0;
        }
        if rate <= 0.0 {
            continue;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let due = (since.elapsed().as_secs_f64() * rate) as u64;
        let n = due.saturating_sub(emitted).min(MAX_PER_TICK);
        emitted = due;
        if n == 0 {
            continue;
        }
        emit(&shared, &mut source, n);
    }
}

async fn replay_task(
    shared: Arc<Shared>,
    shard: u32,
    events: Vec<replay::ReplayEvent>,
    mut stop: watch::Receiver<bool>,
) {
    // Wait for a session on the shard.
    loop {
        let has = shared
            .slot(shard)
            .is_some_and(|s| lock(&s.current).is_some());
        if has {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
    for ev in events {
        shared.push_to_shard(shard, &ev.name, ev.guild_id, &ev.data);
        shared.generated.fetch_add(1, Ordering::Relaxed);
        let rate = shared.rate();
        if rate > 0.0 {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs_f64(1.0 / rate)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

/// A running simulator. Dropping it stops the server and its tasks.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// The bound address (port chosen by the OS when binding port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The gateway URL, `ws://127.0.0.1:PORT`, for `twilight_gateway::ConfigBuilder::proxy_url`
    /// (twilight appends `/?v=10&encoding=json&compress=...`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// What the REST routes have served and refused so far.
    pub fn rest_counts(&self) -> crate::RestCounts {
        lock(&self.shared.rest).limits.counts
    }

    /// The HTTP base URL, `http://127.0.0.1:PORT` (`/api/v10/gateway/bot`, `/control/...`).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulated clock (advance it to move the 5 s IDENTIFY windows and other policies).
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// Advances the simulated clock by `by`.
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    fn check_shard(&self, shard: u32) -> Result<(), SimError> {
        if shard < self.shared.cfg.shards {
            Ok(())
        } else {
            Err(SimError::new(SimErrorKind::NoSuchShard {
                shard,
                count: self.shared.cfg.shards,
            }))
        }
    }

    /// Sends `cmd` to every connection of `shard`; returns how many connections got it.
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`] if `shard` is not below the shard count.
    pub fn command(&self, shard: u32, cmd: ConnCommand) -> Result<usize, SimError> {
        self.check_shard(shard)?;
        Ok(self.shared.command_shard(shard, cmd))
    }

    /// Sends `cmd` to the connections serving session `session_id` (any shard); returns how
    /// many got it (0 if the session has no connection).
    pub fn command_session(&self, session_id: &str, cmd: ConnCommand) -> usize {
        self.shared.command_session(session_id, cmd)
    }

    /// Sends every dispatch of a JSONL file of envelopes (like the fixtures) to `shard`'s
    /// current session now, renumbered by the session; returns how many the session took.
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`], or [`SimErrorKind::ReplayRead`]/[`SimErrorKind::ReplayLine`] if the
    /// file cannot be read or parsed.
    pub fn replay_file(&self, path: &std::path::Path, shard: u32) -> Result<usize, SimError> {
        self.check_shard(shard)?;
        let events = replay::load(path)?;
        Ok(events
            .iter()
            .filter(|e| {
                self.shared
                    .push_to_shard(shard, &e.name, e.guild_id, &e.data)
                    .is_some()
            })
            .count())
    }

    /// Sends op 7 RECONNECT to `shard`. See [`SimHandle::command`].
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`].
    pub fn reconnect(&self, shard: u32) -> Result<usize, SimError> {
        self.command(shard, ConnCommand::Reconnect)
    }

    /// Sends op 9 INVALID_SESSION with `d = resumable` to `shard`. See [`SimHandle::command`].
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`].
    pub fn invalidate(&self, shard: u32, resumable: bool) -> Result<usize, SimError> {
        self.command(shard, ConnCommand::Invalidate { resumable })
    }

    /// Drops `shard`'s TCP connections without a close frame. See [`SimHandle::command`].
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`].
    pub fn drop_connection(&self, shard: u32) -> Result<usize, SimError> {
        self.command(shard, ConnCommand::Drop)
    }

    /// Makes `shard`'s connections zombies (nothing sent, no heartbeat ACK).
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`].
    pub fn zombie(&self, shard: u32) -> Result<usize, SimError> {
        self.command(shard, ConnCommand::Zombie)
    }

    /// Sets the generated rate in dispatches per second over all shards (0 pauses).
    pub fn set_rate(&self, events_per_sec: f64) {
        let r = if events_per_sec.is_finite() {
            events_per_sec.max(0.0)
        } else {
            0.0
        };
        self.shared.rate_bits.store(r.to_bits(), Ordering::Relaxed);
    }

    /// Sends one dispatch `event` with payload `data` to `shard`'s current session. Returns its
    /// sequence, or `None` if the shard has no session (or the session lacks the intent).
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`].
    pub fn dispatch(
        &self,
        shard: u32,
        event: &str,
        data: &serde_json::Value,
    ) -> Result<Option<u64>, SimError> {
        self.check_shard(shard)?;
        let gid = replay::guild_of(event, data);
        Ok(self
            .shared
            .push_to_shard(shard, event, gid, &data.to_string()))
    }

    /// Like [`SimHandle::dispatch`], with `d` given as JSON text that is sent byte for byte
    /// (not parsed or validated; it must be one JSON value) and the guild given explicitly.
    ///
    /// # Errors
    /// [`SimErrorKind::NoSuchShard`].
    pub fn dispatch_json(
        &self,
        shard: u32,
        event: &str,
        guild_id: Option<u64>,
        data_json: &str,
    ) -> Result<Option<u64>, SimError> {
        self.check_shard(shard)?;
        Ok(self.shared.push_to_shard(shard, event, guild_id, data_json))
    }

    /// Guild snowflakes that `shard` owns, `(guild_id >> 22) % shards == shard`.
    pub fn guilds_of_shard(&self, shard: u32) -> Vec<u64> {
        lock(&self.shared.world).guilds_of_shard(shard, self.shared.cfg.shards)
    }

    /// Everything recorded so far (dispatches sent per session, counters per shard).
    pub fn record(&self) -> RecordSnapshot {
        crate::control::snapshot(&self.shared, true)
    }

    /// Counters of one shard.
    pub fn shard_counts(&self, shard: u32) -> Option<ShardCounts> {
        self.shared.slot(shard).map(|s| lock(&s.counts).clone())
    }

    /// Forgets the recorded dispatches (counters stay).
    pub fn clear_record(&self) {
        self.shared.record.clear();
    }

    /// Dispatches generated so far (before intent filtering).
    pub fn generated(&self) -> u64 {
        self.shared.generated.load(Ordering::Relaxed)
    }

    /// Dispatches not generated because their shard's connection was a whole resume buffer
    /// behind ([`SimConfig::shed_when_behind`]).
    pub fn shed(&self) -> u64 {
        self.shared.shed.load(Ordering::Relaxed)
    }

    /// Stops serving, drops every connection and waits for the server to finish.
    pub async fn shutdown(mut self) {
        self.stop_all();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        }
    }

    fn stop_all(&mut self) {
        let _ = self.stop.send(true);
        for shard in 0..self.shared.cfg.shards {
            self.shared.command_shard(shard, ConnCommand::Drop);
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_all();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
