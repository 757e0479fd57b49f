//! A private `redis-server` for `ddiscord up` when no `DDISCORD_REDIS_URL` is given.
//!
//! It listens on a free loopback port, keeps its data in a directory of its own, and runs in a
//! process group of its own, so that Ctrl-C in a terminal (SIGINT to the foreground process
//! group) reaches only `ddiscord`, which stops it last, after ingest and the state worker. It
//! is killed when this handle is dropped, by [`kill_private_redis`] (a second Ctrl-C), and, on
//! Linux, by the kernel when `ddiscord` dies (parent-death signal SIGKILL).

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Why the private Redis could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalRedisError {
    /// No `redis-server` binary.
    #[error(
        "redis-server is not installed: run `scripts/up` (it installs it), install Debian's redis-server package, or set DDISCORD_REDIS_URL to a Redis you run"
    )]
    NotInstalled,
    /// Spawning failed or no free port could be found.
    #[error("cannot start redis-server: {0}")]
    Spawn(#[source] std::io::Error),
    /// It did not accept connections.
    #[error("redis-server did not accept connections on 127.0.0.1:{port} within 10 s; see {log}")]
    NotReady {
        /// The port it was given.
        port: u16,
        /// Its log file.
        log: String,
    },
}

/// The running private servers, so that [`kill_private_redis`] can reach them from anywhere.
static RUNNING: Mutex<BTreeMap<u64, Child>> = Mutex::new(BTreeMap::new());
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

fn running() -> std::sync::MutexGuard<'static, BTreeMap<u64, Child>> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills every private `redis-server` still running (SIGKILL), for an exit that cannot wait
/// for the handles to be dropped (a second Ctrl-C).
pub fn kill_private_redis() {
    for (_, mut child) in std::mem::take(&mut *running()) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A running private `redis-server`.
#[derive(Debug)]
pub struct LocalRedis {
    key: u64,
    pid: u32,
    port: u16,
}

impl LocalRedis {
    /// Starts `redis-server` on a free loopback port with its data in `dir`.
    ///
    /// # Errors
    /// [`LocalRedisError`] when the binary is missing or the server does not come up.
    pub fn start(dir: &Path) -> Result<Self, LocalRedisError> {
        let binary = find_redis().ok_or(LocalRedisError::NotInstalled)?;
        std::fs::create_dir_all(dir).map_err(LocalRedisError::Spawn)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(LocalRedisError::Spawn)?
            .port();
        let log = dir.join("redis.log");
        let mut command = Command::new(binary);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group: a terminal's Ctrl-C does not reach it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(LocalRedisError::Spawn)?;
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LocalRedisError::NotReady {
                    port,
                    log: log.display().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        running().insert(key, child);
        Ok(Self { key, pid, port })
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the server (SIGKILL: its data is temporary) and waits for it to exit.
    pub fn stop(&mut self) {
        let child = running().remove(&self.key);
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// On Linux, asks the kernel to SIGKILL the child when the thread that spawned it ends: the
/// process's main thread here (`ddiscord up` starts Redis before anything else, on the thread
/// that runs `main`), so a `ddiscord` killed with SIGKILL leaves no Redis behind. Elsewhere it
/// does nothing and the server is stopped only by [`LocalRedis`]'s drop and
/// [`kill_private_redis`].
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: the closure runs in the child between fork and exec; it only calls prctl(2),
        // which is async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

fn find_redis() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/bin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}
