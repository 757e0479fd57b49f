//! `ddiscord dev services` (hidden): private `redis-server` and `mosquitto` instances for the
//! Python and Node tests, started by `ddiscord-local-servers`, the implementation the Rust
//! tests and `ddiscord up` use.
//!
//! It starts the servers asked for on free loopback ports, each with a data directory of its
//! own, and prints one JSON line with their URLs, ports and process ids:
//!
//! ```text
//! {"mosquitto":{"pid":4242,"port":40115,"url":"mqtt://127.0.0.1:40115"},"redis":{…}}
//! ```
//!
//! Then it reads commands on standard input, one a line, `<action> <server>` (`stop`: SIGTERM,
//! `kill`: SIGKILL, `start`: again on the same port and directory; `redis` or `mosquitto`),
//! and answers each with one JSON line, `{"ok":true,"pid":…}` or `{"ok":false,"error":"…"}`.
//! It stops the servers and exits when standard input closes (the test process ended, however
//! it ended) or on SIGTERM or SIGINT; the servers also die with it if it is killed.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ddiscord_local_servers::{Mosquitto, Pki, Redis, Secured, ServerError};
use serde_json::{Value, json};
use tokio::signal::unix::{SignalKind, signal};

/// Tools for developing and testing DDiscord itself.
#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(subcommand)]
    command: DevCommand,
}

#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Start private Redis and Mosquitto servers on free ports; print their URLs as one JSON
    /// line; stop them when standard input closes.
    Services(ServicesArgs),
}

/// The servers to start.
#[derive(Debug, Args)]
struct ServicesArgs {
    /// Start a private redis-server.
    #[arg(long)]
    redis: bool,
    /// Start a private mosquitto with the shipped configuration.
    #[arg(long)]
    mosquitto: bool,
    /// An extra line for mosquitto.conf, after the shipped ones (repeatable; later lines win).
    #[arg(long = "mosquitto-conf", value_name = "LINE")]
    mosquitto_conf: Vec<String>,
    /// Start them secured: TLS only, with certificates of a CA generated here, and one user
    /// each (`ddiscord`, with a random password). The JSON line then carries `url` with the
    /// credentials in it, `username`, `password` and `ca_file` (the CA to trust) per server,
    /// and `untrusted_ca_file` (a CA that signed nothing).
    #[arg(long)]
    secured: bool,
}

/// Runs `ddiscord dev …`.
pub async fn run(args: DevArgs) -> ExitCode {
    match args.command {
        DevCommand::Services(args) => match services(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("ddiscord: {err}");
                let mut source = std::error::Error::source(&err);
                while let Some(s) = source {
                    eprintln!("  caused by: {s}");
                    source = s.source();
                }
                ExitCode::FAILURE
            }
        },
    }
}

/// Why `ddiscord dev services` stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
struct DevError {
    kind: DevErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`DevError`].
#[derive(Debug, thiserror::Error)]
enum DevErrorKind {
    /// A server could not start.
    #[error("a private server could not start")]
    Start,
    /// A signal handler could not be installed, or standard output could not be written.
    #[error("cannot set up {0}")]
    Setup(&'static str),
}

impl From<ServerError> for DevError {
    fn from(source: ServerError) -> Self {
        Self {
            kind: DevErrorKind::Start,
            source: Some(Box::new(source)),
        }
    }
}

fn setup(what: &'static str) -> impl FnOnce(std::io::Error) -> DevError {
    move |source| DevError {
        kind: DevErrorKind::Setup(what),
        source: Some(Box::new(source)),
    }
}

/// The servers started.
struct Services {
    redis: Option<Redis>,
    mosquitto: Option<Mosquitto>,
    /// The TLS and login settings of secured servers, and the directory of their certificates.
    secured: Option<(Secured, tempfile::TempDir)>,
}

impl Services {
    fn describe(&self) -> Value {
        let mut out = serde_json::Map::new();
        let entry = |url: String, port: u16, pid: Option<u32>| {
            let mut v = json!({"url": url, "port": port, "pid": pid});
            if let Some((s, _)) = &self.secured {
                v["url"] =
                    json!(url.replacen("://", &format!("://{}:{}@", s.username, s.password), 1));
                v["username"] = json!(s.username);
                v["password"] = json!(s.password);
                v["ca_file"] = json!(s.pki.ca_file);
                v["untrusted_ca_file"] = json!(s.pki.untrusted_ca_file);
            }
            v
        };
        if let Some(r) = &self.redis {
            out.insert("redis".into(), entry(r.url(), r.port(), r.pid()));
        }
        if let Some(m) = &self.mosquitto {
            out.insert("mosquitto".into(), entry(m.url(), m.port(), m.pid()));
        }
        Value::Object(out)
    }

    /// Runs one command line; its JSON answer.
    fn command(&mut self, line: &str) -> Value {
        let mut words = line.split_whitespace();
        let (Some(action), Some(name), None) = (words.next(), words.next(), words.next()) else {
            return json!({"ok": false, "error": format!("expected `<action> <server>`, got {line:?}")});
        };
        let server: Option<&mut dyn Control> = match name {
            "redis" => self.redis.as_mut().map(|r| r as &mut dyn Control),
            "mosquitto" => self.mosquitto.as_mut().map(|m| m as &mut dyn Control),
            _ => {
                return json!({"ok": false, "error": format!("unknown server {name:?}: redis or mosquitto")});
            }
        };
        let Some(server) = server else {
            return json!({"ok": false, "error": format!("{name} was not started")});
        };
        let result = match action {
            "stop" => {
                server.stop();
                Ok(())
            }
            "kill" => {
                server.kill();
                Ok(())
            }
            "start" => server.start_again(),
            _ => {
                return json!({"ok": false, "error": format!("unknown action {action:?}: stop, kill or start")});
            }
        };
        match result {
            Ok(()) => json!({"ok": true, "pid": server.pid()}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        }
    }
}

/// What the commands do to a server.
trait Control {
    fn stop(&mut self);
    fn kill(&mut self);
    fn start_again(&mut self) -> Result<(), ServerError>;
    fn pid(&self) -> Option<u32>;
}

impl Control for Redis {
    fn stop(&mut self) {
        Redis::stop(self);
    }
    fn kill(&mut self) {
        Redis::kill(self);
    }
    fn start_again(&mut self) -> Result<(), ServerError> {
        Redis::start_again(self)
    }
    fn pid(&self) -> Option<u32> {
        Redis::pid(self)
    }
}

impl Control for Mosquitto {
    fn stop(&mut self) {
        Mosquitto::stop(self);
    }
    fn kill(&mut self) {
        Mosquitto::kill(self);
    }
    fn start_again(&mut self) -> Result<(), ServerError> {
        Mosquitto::start_again(self)
    }
    fn pid(&self) -> Option<u32> {
        Mosquitto::pid(self)
    }
}

async fn services(args: ServicesArgs) -> Result<(), DevError> {
    let mut term = signal(SignalKind::terminate()).map_err(setup("the SIGTERM handler"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(setup("the SIGINT handler"))?;
    let extra: Vec<&str> = args.mosquitto_conf.iter().map(String::as_str).collect();
    let secured = if args.secured {
        let dir = tempfile::tempdir().map_err(setup("a directory for the certificates"))?;
        let pki = Pki::generate(dir.path())?;
        let secured = Secured {
            pki,
            username: "ddiscord".to_owned(),
            password: format!("{:016x}", rand::random::<u64>()),
        };
        Some((secured, dir))
    } else {
        None
    };
    let mut services = match &secured {
        None => Services {
            redis: args.redis.then(Redis::start).transpose()?,
            mosquitto: args
                .mosquitto
                .then(|| Mosquitto::start_with(&extra))
                .transpose()?,
            secured: None,
        },
        Some((s, _)) => Services {
            redis: args.redis.then(|| Redis::start_secured(s)).transpose()?,
            mosquitto: args
                .mosquitto
                .then(|| Mosquitto::start_secured(s))
                .transpose()?,
            secured: None,
        },
    };
    services.secured = secured;
    answer(&services.describe())?;

    // Standard input is read on a thread of its own: a read in progress must not hold up the
    // exit on a signal.
    let (lines, mut commands) = tokio::sync::mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("dev-services-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        })
        .map_err(setup("the standard input reader"))?;
    loop {
        tokio::select! {
            line = commands.recv() => match line {
                Some(line) if line.trim().is_empty() => {}
                Some(line) => answer(&services.command(&line))?,
                None => break,
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    drop(services);
    Ok(())
}

/// Prints `value` as one line and flushes it.
fn answer(value: &Value) -> Result<(), DevError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")
        .and_then(|()| out.flush())
        .map_err(setup("standard output"))
}
