//! Real servers for tests: a private `redis-server` and a private `mosquitto`, each on a free
//! loopback port with its own data directory, stopped when dropped.
//!
//! Tests never share a server, so they do not depend on order and may restart or kill their
//! server (broker outage, Redis restart) without disturbing other tests. The binaries are found on
//! `PATH` (and `/usr/sbin`), or named by `DDISCORD_REDIS_SERVER` and `DDISCORD_MOSQUITTO`;
//! `scripts/test` installs them when missing.
//!
//! A failing test leaves no server behind: a server is killed when its handle is dropped (also
//! while a panicking test unwinds), and, on Linux, by the kernel when the test process dies
//! without unwinding (killed, aborted): every server is started with a parent-death signal
//! (`prctl(PR_SET_PDEATHSIG, SIGKILL)`) from one thread that lives as long as the process, since
//! the kernel sends that signal when the *thread* that forked the server ends. On other systems
//! only the drop kills them.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Why a test server could not be started or read.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The server binary is missing.
    #[error("`{0}` not found on PATH; run scripts/test, which installs it, or set {1}")]
    NotInstalled(&'static str, &'static str),
    /// Starting, stopping or talking to the server failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server did not accept connections in time.
    #[error("{0} did not accept connections on 127.0.0.1:{1}; its log {2}")]
    NotReady(&'static str, u16, String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestkitError {
    let what = what.into();
    move |source| TestkitError::Io { what, source }
}

/// A free TCP port on 127.0.0.1 (bound and released; another process may take it in between,
/// which the servers' start-up check turns into a clear error).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// `GET path` over a fresh connection to `addr` (HTTP/1.0, so the server closes it); the whole
/// answer, status line, headers and body. For the `/healthz`, `/readyz` and `/metrics`
/// endpoints of the processes under test.
///
/// # Errors
/// The I/O error when `addr` cannot be reached or the answer is not UTF-8.
pub async fn http_get(
    addr: impl tokio::net::ToSocketAddrs,
    path: &str,
) -> Result<String, std::io::Error> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// The captured Discord payloads, `<repo>/../shared/fixtures/discord`, or `DDISCORD_FIXTURES`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DDISCORD_FIXTURES") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/discord")
}

fn find_binary(name: &'static str, env: &'static str) -> Result<PathBuf, TestkitError> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or(TestkitError::NotInstalled(name, env))
}

fn wait_ready(
    name: &'static str,
    port: u16,
    log: &Path,
    child: &mut Child,
) -> Result<(), TestkitError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        // A server that exited (a bad config line, a port taken) will never come up.
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let tail: String = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(" | ");
    Err(TestkitError::NotReady(
        name,
        port,
        format!("{}: {tail}", log.display()),
    ))
}

/// A request to the spawning thread: the command, and where to send the child.
type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Starts `command` so that it dies with the test process: from the process-wide spawning
/// thread (which never ends before the process does), with a parent-death signal on Linux.
fn spawn_tied(mut command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Option<Mutex<mpsc::Sender<SpawnRequest>>>> = OnceLock::new();
    die_with_parent(&mut command);
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testkit-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let Some(spawner) = spawner else {
        // No thread could be started: spawn here (the server then dies with this thread).
        return command.spawn();
    };
    let (reply, child) = mpsc::channel();
    let sent = spawner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send((command, reply));
    match sent {
        Ok(()) => child
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the spawning thread ended"))),
        Err(mpsc::SendError((mut command, _))) => command.spawn(),
    }
}

/// On Linux, has the kernel SIGKILL the child when the thread that forks it ends.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        let parent = std::process::id();
        // SAFETY: the closure runs in the child between fork and exec; it calls only
        // prctl(2), getppid(2), getpid(2) and kill(2), which are async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before the signal was armed: follow it now.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// A server process with a fixed port and data directory, restartable.
#[derive(Debug)]
struct Server {
    name: &'static str,
    binary: PathBuf,
    args: Vec<String>,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Server {
    fn spawn(&mut self) -> Result<(), TestkitError> {
        let log_path = self.dir.path().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("opening the server log"))?;
        let err = log.try_clone().map_err(io("opening the server log"))?;
        let mut command = Command::new(&self.binary);
        command
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        let child =
            spawn_tied(command).map_err(io(format!("starting {}", self.binary.display())))?;
        let child = self.child.insert(child);
        wait_ready(self.name, self.port, &log_path, child)
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn signal(&mut self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
        }
    }

    fn stop(&mut self, signal: &str) {
        self.signal(signal);
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A private `redis-server` (no persistence to disk unless restarted with
/// [`RedisServer::restart`], which keeps the data through an RDB save).
#[derive(Debug)]
pub struct RedisServer(Server);

impl RedisServer {
    /// Starts one on a free port.
    ///
    /// # Errors
    /// [`TestkitError`] when the binary is missing or the server does not come up.
    pub fn start() -> Result<Self, TestkitError> {
        let binary = find_binary("redis-server", "DDISCORD_REDIS_SERVER")?;
        let port = free_port();
        let dir = tempfile::tempdir().map_err(io("creating a data directory"))?;
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir.path().display().to_string(),
        ]
        .map(String::from)
        .to_vec();
        let mut server = Server {
            name: "redis-server",
            binary,
            args,
            port,
            dir,
            child: None,
        };
        server.spawn()?;
        Ok(Self(server))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.0.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.0.pid()
    }

    /// Stops the server (SIGTERM; data is lost unless [`Self::restart`] is used).
    pub fn stop(&mut self) {
        self.0.stop("-TERM");
    }

    /// Starts it again on the same port.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_again(&mut self) -> Result<(), TestkitError> {
        self.0.spawn()
    }

    /// Saves the data (`SHUTDOWN SAVE` via SIGTERM after enabling RDB), stops, and starts again
    /// on the same port with the data loaded; clients see their connections dropped.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        if !self.0.args.iter().any(|a| a == "dump.rdb") {
            self.0
                .args
                .extend(["--dbfilename", "dump.rdb"].map(String::from));
        }
        if let Some(i) = self.0.args.iter().position(|a| a == "--save") {
            self.0.args[i + 1] = "3600 1".into();
        }
        // Without a save point configured, SIGTERM does not write the RDB: ask for it first.
        let _ = Command::new(find_binary("redis-cli", "DDISCORD_REDIS_CLI")?)
            .args(["-p", &self.0.port.to_string(), "SAVE"])
            .stdout(Stdio::null())
            .status();
        self.0.stop("-TERM");
        self.0.spawn()
    }
}

/// A private `mosquitto` with DDiscord's shipped broker settings,
/// `k8s/overlays/self-contained/mosquitto/mosquitto.conf` (persistence and queue limits that do not
/// drop QoS 1 messages; the Kubernetes pod runs the same file), on a free port.
#[derive(Debug)]
pub struct Mosquitto(Server);

impl Mosquitto {
    /// Starts one with the shipped configuration.
    ///
    /// # Errors
    /// [`TestkitError`] when the binary is missing or the broker does not come up.
    pub fn start() -> Result<Self, TestkitError> {
        Self::start_with(&[])
    }

    /// Starts one with the shipped configuration plus `extra` lines (later lines win), e.g.
    /// `["max_queued_messages 1000"]` to show Mosquitto's default dropping.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_with(extra: &[&str]) -> Result<Self, TestkitError> {
        let binary = find_binary("mosquitto", "DDISCORD_MOSQUITTO")?;
        let port = free_port();
        let dir = tempfile::tempdir().map_err(io("creating a data directory"))?;
        let shipped = include_str!("../../k8s/overlays/self-contained/mosquitto/mosquitto.conf");
        // `user root`: started as root, mosquitto switches to the `mosquitto` user, which cannot
        // write this private directory, so nothing would be persisted; the option is ignored
        // when not running as root (https://mosquitto.org/man/mosquitto-conf-5.html, `user`).
        let conf = format!(
            "{shipped}\nlistener {port} 127.0.0.1\npersistence_location {}/\nuser root\n{}\n",
            dir.path().display(),
            extra.join("\n")
        );
        let conf_path = dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, conf).map_err(io("writing mosquitto.conf"))?;
        let args = vec!["-c".to_owned(), conf_path.display().to_string()];
        let mut server = Server {
            name: "mosquitto",
            binary,
            args,
            port,
            dir,
            child: None,
        };
        server.spawn()?;
        Ok(Self(server))
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.0.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.0.pid()
    }

    /// Stops the broker gracefully (SIGTERM: persistent sessions and queues are saved).
    pub fn stop(&mut self) {
        self.0.stop("-TERM");
    }

    /// Kills the broker (SIGKILL: what was not autosaved is lost).
    pub fn kill(&mut self) {
        self.0.stop("-KILL");
    }

    /// Starts it again on the same port with the same data directory.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_again(&mut self) -> Result<(), TestkitError> {
        self.0.spawn()
    }

    /// The broker's count of dropped messages, `$SYS/broker/publish/messages/dropped`, read
    /// with `mosquitto_sub` (it is published every second).
    ///
    /// # Errors
    /// [`TestkitError`] when `mosquitto_sub` is missing or prints no number.
    pub fn dropped_messages(&self) -> Result<u64, TestkitError> {
        let sub = find_binary("mosquitto_sub", "DDISCORD_MOSQUITTO_SUB")?;
        let out = Command::new(sub)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.0.port.to_string(),
                "-C",
                "1",
                "-W",
                "5",
                "-t",
                "$SYS/broker/publish/messages/dropped",
            ])
            .output()
            .map_err(io("running mosquitto_sub"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse().map_err(|_| TestkitError::Io {
            what: format!("reading the drop counter (got {text:?})"),
            source: std::io::Error::other("not a number"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_start_and_restart() {
        let mut redis = RedisServer::start().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
        redis.restart().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
        let mut mosq = Mosquitto::start().unwrap();
        assert_eq!(mosq.dropped_messages().unwrap(), 0);
        mosq.stop();
        assert!(TcpStream::connect(("127.0.0.1", mosq.port())).is_err());
        // A graceful stop saves the persistence database (sessions and queued messages).
        assert!(mosq.0.dir.path().join("mosquitto.db").exists());
        mosq.start_again().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", mosq.port())).is_ok());
    }
}
