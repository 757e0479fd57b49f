//! `ddiscord up`: the whole pipeline in one process, for one machine.
//!
//! ```text
//! simulator (or Discord) ──▶ ingest ──▶ embedded mesh ──▶ state worker ──▶ Redis
//!                                            └──── scripts attach here (MQTT on loopback)
//! ```
//!
//! Redis comes from `DDISCORD_REDIS_URL` or is a private `redis-server` started here; the mesh
//! is `DDISCORD_MESH_URL` or an embedded broker on `127.0.0.1:1883` (or a free port when that one
//! is taken). Ctrl-C or SIGTERM shuts everything down in order: ingest first (sessions
//! persisted, shards closed with 4000 so they can resume), then the state worker, the simulator,
//! the broker and Redis. Every step is bounded, so the stop ends within about 10 s even when the
//! broker or Redis is gone; a second Ctrl-C or SIGTERM exits at once.
//!
//! The private Redis runs in a process group of its own, so a terminal's Ctrl-C reaches only
//! `ddiscord`. While the live summary is drawn, log lines go to a file
//! (`<tmp>/ddiscord-up-<pid>.log`, or `--log-file`) whose path is the first line printed.

mod display;
mod local_redis;
mod metrics_text;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use ddiscord::mesh::EmbeddedBroker;
use ddiscord_ingest::{IngestConfig, IngestNode};
use ddiscord_sim::{SimArgs, Simulator};
use ddiscord_workers::{StateWorker, StateWorkerConfig};

pub use local_redis::{LocalRedis, kill_private_redis};

use crate::cmd::error::CliError;
use crate::logging::LogTarget;

/// Dispatches all shards of `ddiscord up` together read ahead of the cache before they wait
/// for the state worker, shared out per shard ([`IngestConfig::max_cache_lag`]).
const UP_CACHE_LAG: u64 = 20_000;
/// The least a shard of `ddiscord up` may read ahead of the cache.
const UP_MIN_SHARD_CACHE_LAG: u64 = 1_000;

/// Bound on stopping the simulator, and on stopping the HTTP listener.
const STEP_TIMEOUT: Duration = Duration::from_secs(1);

/// Run the simulator (or connect to Discord), ingest, the embedded mesh and the state worker in
/// one process, with a live summary.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Bot token: when set, shards connect to Discord instead of the simulator.
    #[arg(long, env = "DISCORD_TOKEN", hide_env_values = true)]
    pub discord_token: Option<String>,
    /// Redis URL; when unset a private redis-server is started on a free port.
    #[arg(long, env = "DDISCORD_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Event mesh URL; when unset an embedded MQTT broker is started on 127.0.0.1:1883 (or a
    /// free port if 1883 is taken), which scripts in other processes connect to.
    #[arg(long, env = "DDISCORD_MESH_URL", hide_env_values = true)]
    pub mesh_url: Option<String>,
    /// Topic root (`<root>/…`, `<root>-state/…`).
    #[arg(long, env = "DDISCORD_TOPIC_ROOT", default_value = "discord")]
    pub topic_root: String,
    /// Redis key prefix of the cache.
    #[arg(long, env = "DDISCORD_KEY_PREFIX", default_value = ddiscord::coord::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,
    /// Address of `/healthz`, `/readyz` and `/metrics` (Prometheus).
    #[arg(long, env = "DDISCORD_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Stop after this many seconds (0: run until Ctrl-C).
    #[arg(long, env = "DDISCORD_UP_RUN_SECS", default_value_t = 0)]
    pub run_secs: u64,
    /// Print a status line every few seconds instead of a live display (the default when
    /// standard output is not a terminal).
    #[arg(long, env = "DDISCORD_UP_PLAIN")]
    pub plain: bool,
    /// IDENTIFY `large_threshold` of ingest's shards: members above which a guild's
    /// GUILD_CREATE leaves its offline members out, 50 to 250
    /// (<https://discord.com/developers/docs/events/gateway-events#identify>).
    #[arg(long, env = "DDISCORD_LARGE_THRESHOLD", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(50..=250))]
    pub large_threshold: u64,
    /// Whether ingest requests every member of a large guild after its GUILD_CREATE (opcode
    /// 8), so the cache holds them all; `false` leaves that to scripts
    /// (`request_guild_members`).
    #[arg(long, env = "DDISCORD_REQUEST_MEMBERS", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub request_members: bool,
    /// Write log lines to this file (appended). By default they go to standard error, or to
    /// `<tmp>/ddiscord-up-<pid>.log` while the live summary is drawn on a terminal.
    #[arg(long, env = "DDISCORD_UP_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    /// The simulator's options (ignored with a bot token).
    #[command(flatten, next_help_heading = "Simulator")]
    pub sim: SimArgs,
}

/// Where `ddiscord up` writes its log lines: `--log-file`; else a file in the temporary
/// directory while the live summary is drawn (log lines would break it up); else standard
/// error.
pub fn log_target(args: &UpArgs) -> LogTarget {
    match &args.log_file {
        Some(path) => LogTarget::File(path.clone()),
        None if display::is_live(args.plain) => LogTarget::File(
            std::env::temp_dir().join(format!("ddiscord-up-{}.log", std::process::id())),
        ),
        None => LogTarget::Stderr,
    }
}

/// Runs `ddiscord up`; `log_file` is where the log lines go, when not to standard error.
///
/// # Errors
/// [`CliError`] when a component cannot start (Redis missing, a port taken, …).
pub async fn run(args: UpArgs, log_file: Option<&Path>) -> Result<(), CliError> {
    if let Some(path) = log_file {
        let _ = writeln!(std::io::stdout(), "logs: {}", path.display());
    }
    // Listening from the start, so that no Ctrl-C is lost between two ticks of the display.
    let signal = |kind, what| {
        tokio::signal::unix::signal(kind).map_err(|source| CliError::setup(what, source))
    };
    let mut int = signal(
        tokio::signal::unix::SignalKind::interrupt(),
        "the SIGINT handler",
    )?;
    let mut term = signal(
        tokio::signal::unix::SignalKind::terminate(),
        "the SIGTERM handler",
    )?;
    let data = tempfile::tempdir()
        .map_err(|source| CliError::setup("a temporary directory for Redis", source))?;

    // Redis.
    let mut local_redis = None;
    let redis_url = match &args.redis_url {
        Some(url) => url.clone(),
        None => {
            let redis = LocalRedis::start(&data.path().join("redis"))?;
            let url = redis.url();
            local_redis = Some(redis);
            url
        }
    };

    // Event mesh.
    let mesh_url = match &args.mesh_url {
        Some(url) => url.clone(),
        None => {
            let preferred: SocketAddr = ([127, 0, 0, 1], 1883).into();
            let started = match EmbeddedBroker::start(preferred) {
                Ok(b) if !b.attached() => b,
                // 1883 is taken by another broker: run our own on a free port.
                _ => EmbeddedBroker::start(([127, 0, 0, 1], 0).into())?,
            };
            // rumqttd has no shutdown: the broker stops with the process.
            started.mqtt_url()
        }
    };

    // Gateway: Discord, or the simulator.
    let mut sim = None;
    let (token, gateway_url, shards) = match &args.discord_token {
        Some(token) => (token.clone(), None, None),
        None => {
            let config = args.sim.to_config();
            let handle = Simulator::start(config).await?;
            let url = handle.ws_url();
            let shards = args.sim.shards;
            sim = Some(handle);
            (args.sim.token.clone(), Some(url), Some(shards))
        }
    };

    let mut worker_config = StateWorkerConfig::new(&redis_url, &mesh_url);
    worker_config.key_prefix.clone_from(&args.key_prefix);
    if args.mesh_url.is_none() {
        // The embedded broker (rumqttd) can lose QoS 1 messages in flight when it drops a
        // connection (docs/mesh.md): give up on such a gap after 2 s rather than 10 s, so the
        // pipeline on one machine never stalls long (each one is logged and counted).
        worker_config.gap_timeout = std::time::Duration::from_secs(2);
    }
    worker_config.topic_root.clone_from(&args.topic_root);
    let mut ingest_config = IngestConfig::new(token, &redis_url, &mesh_url);
    ingest_config.gateway_url = gateway_url;
    ingest_config.shards = shards;
    ingest_config.topic_root.clone_from(&args.topic_root);
    ingest_config.key_prefix.clone_from(&args.key_prefix);
    ingest_config.large_threshold = args.large_threshold;
    ingest_config.request_members = args.request_members;
    if sim.is_some() {
        // The simulator's budget is its own; keep nothing in reserve.
        ingest_config.identify_reserve = 0;
    }

    // Install the process-wide Prometheus recorder before the components count anything.
    let prometheus = ddiscord_ops::prometheus();

    // The state worker needs the shard count (its partitions) before ingest publishes, so that
    // its durable sessions exist when the first dispatch arrives.
    worker_config.shards = Some(match shards {
        Some(n) => n,
        None => {
            ddiscord_ingest::gateway_info::fetch(&ingest_config.token, None)
                .await?
                .shards
        }
    });
    ingest_config.shards = worker_config.shards;
    // One machine: when the state worker falls behind, the backlog waits at the gateway
    // instead of growing in the embedded broker's memory.
    let shard_count = u64::from(ingest_config.shards.unwrap_or(1).max(1));
    ingest_config.max_cache_lag = Some((UP_CACHE_LAG / shard_count).max(UP_MIN_SHARD_CACHE_LAG));
    let worker = StateWorker::start(worker_config).await?;
    let ingest = IngestNode::start(ingest_config).await?;
    // One listener for the whole pipeline: ready when ingest and the state worker both are.
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = {
        let status = ingest.status();
        let worker = worker.readiness();
        ddiscord_ops::serve(
            args.http_addr,
            move || {
                let ingest = status.check();
                let worker = worker.clone();
                async move {
                    ingest?;
                    worker.check().await
                }
            },
            async move {
                let _ = http_stopped.await;
            },
        )
        .await?
    };

    let info = display::Info {
        gateway: sim.as_ref().map_or_else(
            || "Discord".to_owned(),
            |s| format!("simulator {}", s.ws_url()),
        ),
        // Printed for scripts to attach; a password given in a URL is the user's own and is
        // not repeated on screen.
        mesh_url: ddiscord::mesh::secret::redact_url(&mesh_url),
        redis_url: ddiscord::mesh::secret::redact_url(&redis_url),
        http_addr: http.local_addr(),
        key_prefix: args.key_prefix.clone(),
        redis_pid: local_redis.as_ref().and_then(LocalRedis::pid),
        log_file: log_file.map(Path::to_path_buf),
    };
    let mut screen = display::Screen::new(info, args.plain);
    let mut conn = match ddiscord::coord::RedisTarget::from_env_with_url(redis_url.as_str()) {
        Ok(target) => target.connect().await.ok(),
        Err(_) => None,
    };

    let deadline = (args.run_secs > 0)
        .then(|| tokio::time::Instant::now() + Duration::from_secs(args.run_secs));
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = int.recv() => break,
            _ = term.recv() => break,
        }
        let snapshot = display::Snapshot::collect(
            prometheus,
            sim.as_ref(),
            &ingest,
            conn.as_mut(),
            &args.key_prefix,
        )
        .await;
        screen.draw(&snapshot);
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
    }

    screen.finish("shutting down: ingest (sessions kept for RESUME), state worker, simulator");
    let started = Instant::now();
    // Each step is bounded (ingest and the state worker bound their own stops), so the whole
    // stop ends within about 10 s even with the broker and Redis gone.
    let step = Instant::now();
    match ingest.shutdown().await {
        Ok(()) => tracing::info!(ms = ms(step), "ingest stopped"),
        Err(e) => tracing::warn!(
            error = &e as &dyn std::error::Error,
            ms = ms(step),
            "ingest did not shut down cleanly"
        ),
    }
    let step = Instant::now();
    match worker.shutdown().await {
        Ok(()) => tracing::info!(ms = ms(step), "state worker stopped"),
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                ms = ms(step),
                "state worker did not shut down cleanly"
            );
        }
    }
    if let Some(sim) = sim
        && tokio::time::timeout(STEP_TIMEOUT, sim.shutdown())
            .await
            .is_err()
    {
        tracing::warn!("the simulator did not stop in time");
    }
    let _ = stop_http.send(());
    if tokio::time::timeout(STEP_TIMEOUT, http.stopped())
        .await
        .is_err()
    {
        tracing::warn!("the HTTP listener did not stop in time");
    }
    drop(local_redis);
    tracing::info!(ms = ms(started), "stopped");
    let _ = writeln!(
        std::io::stdout(),
        "stopped in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
