//! The pipeline tests' harness: real `ddiscord` processes started with an environment, waits on
//! conditions with deadlines, and everything killed (and its log printed) when a test ends or
//! fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod delivery;
pub mod k8s;
pub mod mesh;
pub mod reference;
pub mod sim;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test, as cargo built it.
pub const BIN: &str = env!("CARGO_BIN_EXE_ddiscord");

/// The binary every process of a test runs.
pub fn binary() -> &'static Path {
    Path::new(BIN)
}

/// An environment: variable name to value.
pub type Env = BTreeMap<String, String>;

/// Builds an [`Env`] from pairs.
pub fn env<K: ToString, V: ToString>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One child process with its log file (stdout and stderr together).
#[derive(Debug)]
pub struct Proc {
    /// Name in the harness's messages.
    pub name: String,
    child: Option<Child>,
    log: PathBuf,
    /// `/healthz`, `/readyz` and `/metrics` listener, when it has one.
    pub http: Option<String>,
    /// How it ended, once it has.
    pub exit: Option<ExitStatus>,
}

impl Proc {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => match c.try_wait() {
                Ok(Some(status)) => {
                    self.exit = Some(status);
                    self.child = None;
                    false
                }
                _ => true,
            },
            None => false,
        }
    }

    /// Sends `signal` (`-KILL`, `-TERM`, ...).
    pub fn signal(&self, signal: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([signal, &c.id().to_string()])
                .status();
        }
    }

    /// SIGKILL, then reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            self.exit = c.wait().ok();
        }
    }

    /// SIGTERM, then waits up to `timeout` for the exit (SIGKILL after it); whether it exited
    /// by itself in time.
    pub async fn term(&mut self, timeout: Duration) -> bool {
        self.signal("-TERM");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !self.running() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill9();
        false
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Owns every process of a test and the directory of their logs. Dropping it kills them all;
/// when the test is failing, it prints the end of each process's log first.
#[derive(Debug)]
pub struct Harness {
    dir: tempfile::TempDir,
    /// The processes, in start order.
    pub procs: Vec<Proc>,
    started: Instant,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// An empty harness with a fresh log directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            procs: Vec::new(),
            started: Instant::now(),
        }
    }

    /// A scratch directory for the test's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts `ddiscord <args>` with exactly `env` (nothing inherited but `PATH`); returns its
    /// index in [`Self::procs`].
    pub fn spawn(&mut self, name: &str, args: &[&str], env: &Env) -> usize {
        let log = self.dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        eprintln!(
            "[{:>6.1}s] started {name} (pid {}): ddiscord {}",
            self.started.elapsed().as_secs_f64(),
            child.id(),
            args.join(" ")
        );
        self.procs.push(Proc {
            name: name.to_owned(),
            child: Some(child),
            log,
            http: env.get("DDISCORD_HTTP_ADDR").cloned(),
            exit: None,
        });
        self.procs.len() - 1
    }

    /// A progress line with the time since the harness started.
    pub fn note(&self, what: impl std::fmt::Display) {
        eprintln!("[{:>6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// Waits until process `i` answers 200 on `path` (`/readyz`, `/healthz`).
    pub async fn wait_http_ok(&mut self, i: usize, path: &str, timeout: Duration) {
        let addr = self.procs[i]
            .http
            .clone()
            .expect("the process has an HTTP address");
        let name = self.procs[i].name.clone();
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            if !self.procs[i].running() {
                panic!(
                    "{name} exited ({:?}) before answering {path}; its log:\n{}",
                    self.procs[i].exit,
                    self.procs[i].log_tail(30)
                );
            }
            match http(&addr, "GET", path).await {
                Ok((200, _)) => return,
                Ok((status, body)) => last = format!("{status} {}", body.trim()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} did not answer 200 on {path} within {timeout:?}; last answer: {last}");
    }

    /// Waits until the simulator process `i` answers on its control API.
    pub async fn wait_sim(&mut self, i: usize, sim: &sim::SimControl) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match sim.stats().await {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline || !self.procs[i].running() => panic!(
                    "the simulator never answered ({e}); its log:\n{}",
                    self.procs[i].log_tail(20)
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Lines of every process's log containing `needle`, as `name: line`.
    pub fn log_lines_with(&self, needle: &str) -> Vec<String> {
        self.procs
            .iter()
            .flat_map(|p| {
                p.log()
                    .lines()
                    .filter(|l| l.contains(needle))
                    .map(|l| format!("{}: {l}", p.name))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for p in &self.procs {
                eprintln!(
                    "----- {} (pid {}, exit {:?}): last lines of its log -----\n{}",
                    p.name,
                    p.pid(),
                    p.exit,
                    p.log_tail(15)
                );
            }
        }
        for p in &mut self.procs {
            p.kill9();
        }
    }
}

/// Polls `check` every 100 ms until it returns `Ok`, for at most `timeout`; `Err` carries the
/// last state `check` described.
pub async fn until<T, F, Fut>(timeout: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(state) if Instant::now() >= deadline => {
                return Err(format!("not reached within {timeout:?}: {state}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A minimal HTTP/1.0 request to `addr` (`127.0.0.1:port`): the status and the body.
///
/// # Errors
/// The I/O error, or a malformed answer.
pub async fn http(addr: &str, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// A free `127.0.0.1:port` for a process's HTTP listener.
pub fn free_addr() -> String {
    format!("127.0.0.1:{}", ddiscord_testkit::free_port())
}

/// The first `n` items as a list for a message.
pub fn first<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, n: usize) -> String {
    let items: Vec<String> = items.into_iter().take(n).map(|i| i.to_string()).collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join("; ")
    }
}

/// The captured Discord payloads: `DDISCORD_FIXTURES`, or `../shared/fixtures/discord` beside
/// this repository (resolved from this crate, so a build shared between checkouts finds them).
pub fn fixtures() -> PathBuf {
    if let Some(dir) = std::env::var_os("DDISCORD_FIXTURES") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/discord")
}
