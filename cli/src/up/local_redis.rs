//! A private `redis-server` for `ddiscord up` when no `DDISCORD_REDIS_URL` is given.
//!
//! It listens on a free loopback port, keeps its data in a directory of its own, and is stopped
//! when `ddiscord up` exits (and when this handle is dropped).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

/// A running private `redis-server`.
#[derive(Debug)]
pub struct LocalRedis {
    child: Child,
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
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(LocalRedisError::Spawn)?;
        let mut redis = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || matches!(redis.child.try_wait(), Ok(Some(_))) {
                redis.stop();
                return Err(LocalRedisError::NotReady {
                    port,
                    log: log.display().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find_redis() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/bin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}
