//! Private `redis-server` and `mosquitto` processes, each on a free loopback port with a data
//! directory of its own: the one way DDiscord starts a throwaway server. `ddiscord up` starts
//! its private Redis with it, the Rust tests through `ddiscord-testkit`, and the Python and Node
//! tests through the hidden `ddiscord dev services` command.
//!
//! A server is killed when its handle is dropped, by [`kill_all`] (for an exit that cannot wait
//! for the handles), and, on Linux, by the kernel when the process that started it dies
//! without unwinding (killed, aborted): every server is started with a parent-death signal
//! (`prctl(PR_SET_PDEATHSIG, SIGKILL)`) from one thread that lives as long as the process,
//! since the kernel sends that signal when the *thread* that forked the server ends. On other
//! systems only the drop and [`kill_all`] stop them.
//!
//! Each server runs in a process group of its own, so that a terminal's Ctrl-C (SIGINT to the
//! foreground process group) reaches only the process that started it, which decides when to
//! stop it.
//!
//! The binaries are found on `PATH` (and `/usr/sbin`, `/usr/local/sbin`, `/usr/bin`), or named
//! by `DDISCORD_REDIS_SERVER` and `DDISCORD_MOSQUITTO`; `scripts/test` and `scripts/up` install
//! them when missing.

mod error;
mod process;
mod secured;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use error::{ServerError, ServerErrorKind};
pub use process::kill_all;
use process::{DataDir, Server};
pub use secured::{Pki, Secured};

/// The broker settings DDiscord ships (the Kubernetes pod runs the same file), read from the
/// repository when a broker starts: the image's build context leaves `k8s/` out, and only
/// development builds start brokers.
const SHIPPED_MOSQUITTO_CONF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../k8s/overlays/self-contained/mosquitto/mosquitto.conf"
);

/// A free TCP port on 127.0.0.1 (bound and released; another process may take it in between,
/// which the servers' start-up check turns into a clear error), or 0 when none can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// The binary `name`: the path in the environment variable `env` when set, else the first
/// `name` on `PATH`, `/usr/sbin`, `/usr/local/sbin` or `/usr/bin`.
///
/// # Errors
/// [`ServerErrorKind::NotInstalled`] when there is none.
pub fn find_binary(name: &'static str, env: &'static str) -> Result<PathBuf, ServerError> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or(ServerError::new(ServerErrorKind::NotInstalled {
            binary: name,
            env,
        }))
}

/// A private `redis-server` without persistence (its data is lost when it stops, unless it is
/// restarted with [`Redis::restart`], which keeps the data through an RDB save).
#[derive(Debug)]
pub struct Redis {
    server: Server,
    tls: bool,
}

impl Redis {
    /// Starts one on a free port with its data in a new temporary directory (removed when the
    /// handle is dropped).
    ///
    /// # Errors
    /// [`ServerError`] when the binary is missing or the server does not come up.
    pub fn start() -> Result<Self, ServerError> {
        let dir = tempfile::tempdir().map_err(ServerError::io("creating a data directory"))?;
        Self::start_with_dir(DataDir::Temp(dir))
    }

    /// Starts one on a free port with its data (and its log, `server.log`) in `dir`, which is
    /// created if missing and left in place.
    ///
    /// # Errors
    /// As [`Redis::start`].
    pub fn start_in(dir: &Path) -> Result<Self, ServerError> {
        std::fs::create_dir_all(dir).map_err(ServerError::io("creating a data directory"))?;
        Self::start_with_dir(DataDir::Given(dir.to_path_buf()))
    }

    fn start_with_dir(dir: DataDir) -> Result<Self, ServerError> {
        let binary = find_binary("redis-server", "DDISCORD_REDIS_SERVER")?;
        let port = free_port();
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
        Server::start("redis-server", binary, args, port, dir)
            .map(|server| Self { server, tls: false })
    }

    /// Starts one that speaks only TLS (with `secured`'s server certificate) and lets only
    /// `secured`'s user in (an ACL user with every permission; the `default` user is off).
    ///
    /// # Errors
    /// As [`Redis::start`].
    pub fn start_secured(secured: &Secured) -> Result<Self, ServerError> {
        let dir = tempfile::tempdir().map_err(ServerError::io("creating a data directory"))?;
        let binary = find_binary("redis-server", "DDISCORD_REDIS_SERVER")?;
        let port = free_port();
        let pki = &secured.pki;
        let path = |p: &Path| p.display().to_string();
        let mut args = vec![
            "--port".to_owned(),
            "0".to_owned(),
            "--tls-port".to_owned(),
            port.to_string(),
            "--tls-cert-file".to_owned(),
            path(&pki.cert_file),
            "--tls-key-file".to_owned(),
            path(&pki.key_file),
            "--tls-ca-cert-file".to_owned(),
            path(&pki.ca_file),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--save".to_owned(),
            String::new(),
            "--appendonly".to_owned(),
            "no".to_owned(),
            "--dir".to_owned(),
            path(dir.path()),
            // One ACL rule per argument: redis-server joins them into the `user` line.
            "--user".to_owned(),
            secured.username.clone(),
            "on".to_owned(),
            format!(">{}", secured.password),
            "~*".to_owned(),
            "&*".to_owned(),
            "+@all".to_owned(),
        ];
        // `default` is the user of a bare `AUTH <password>` (Memorystore's AUTH string): kept
        // when it is the one user, turned off otherwise.
        if secured.username != "default" {
            args.extend(["--user", "default", "off"].map(String::from));
        }
        Server::start("redis-server", binary, args, port, DataDir::Temp(dir))
            .map(|server| Self { server, tls: true })
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://127.0.0.1:<port>` when secured (no
    /// credentials in it).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.server.port())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.server.dir()
    }

    /// Stops the server (SIGTERM; data is lost unless [`Redis::restart`] is used) and waits for
    /// it to exit.
    pub fn stop(&mut self) {
        self.server.stop(libc::SIGTERM);
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        self.server.stop(libc::SIGKILL);
    }

    /// Starts it again on the same port with the same data directory.
    ///
    /// # Errors
    /// As [`Redis::start`].
    pub fn start_again(&mut self) -> Result<(), ServerError> {
        self.server.spawn()
    }

    /// Saves the data (`SAVE` with `redis-cli`, then SIGTERM with an RDB save point
    /// configured), stops, and starts again on the same port with the data loaded; clients see
    /// their connections dropped.
    ///
    /// # Errors
    /// As [`Redis::start`], and [`ServerErrorKind::NotInstalled`] without `redis-cli`
    /// (`DDISCORD_REDIS_CLI`).
    pub fn restart(&mut self) -> Result<(), ServerError> {
        let args = self.server.args_mut();
        if !args.iter().any(|a| a == "dump.rdb") {
            args.extend(["--dbfilename", "dump.rdb"].map(String::from));
        }
        if let Some(i) = args.iter().position(|a| a == "--save")
            && let Some(save) = args.get_mut(i + 1)
        {
            "3600 1".clone_into(save);
        }
        // Without a save point configured, SIGTERM does not write the RDB: ask for it first.
        let _ = Command::new(find_binary("redis-cli", "DDISCORD_REDIS_CLI")?)
            .args(["-p", &self.server.port().to_string(), "SAVE"])
            .stdout(Stdio::null())
            .status();
        self.server.stop(libc::SIGTERM);
        self.server.spawn()
    }
}

/// A private `mosquitto` with DDiscord's shipped broker settings,
/// `k8s/overlays/self-contained/mosquitto/mosquitto.conf` (persistence and queue limits that do
/// not drop QoS 1 messages; the Kubernetes pod runs the same file), on a free port, persisting
/// into a temporary directory of its own.
#[derive(Debug)]
pub struct Mosquitto {
    server: Server,
    tls: bool,
}

impl Mosquitto {
    /// Starts one with the shipped configuration.
    ///
    /// # Errors
    /// [`ServerError`] when the binary is missing or the broker does not come up.
    pub fn start() -> Result<Self, ServerError> {
        Self::start_with(&[])
    }

    /// Starts one with the shipped configuration plus `extra` lines (later lines win), e.g.
    /// `["max_queued_messages 1000"]` to show Mosquitto's default dropping.
    ///
    /// # Errors
    /// As [`Mosquitto::start`].
    pub fn start_with(extra: &[&str]) -> Result<Self, ServerError> {
        let dir = tempfile::tempdir().map_err(ServerError::io("creating a data directory"))?;
        Self::start_in_dir(dir, extra)
    }

    fn start_in_dir(dir: tempfile::TempDir, extra: &[&str]) -> Result<Self, ServerError> {
        let binary = find_binary("mosquitto", "DDISCORD_MOSQUITTO")?;
        let port = free_port();
        let shipped = std::fs::read_to_string(SHIPPED_MOSQUITTO_CONF).map_err(ServerError::io(
            format!("reading the shipped broker settings, {SHIPPED_MOSQUITTO_CONF}"),
        ))?;
        // `user root`: started as root, mosquitto switches to the `mosquitto` user, which cannot
        // write this private directory, so nothing would be persisted; the option is ignored
        // when not running as root (https://mosquitto.org/man/mosquitto-conf-5.html, `user`).
        let conf = format!(
            "{shipped}\nlistener {port} 127.0.0.1\npersistence_location {}/\nuser root\n{}\n",
            dir.path().display(),
            extra.join("\n")
        );
        let conf_path = dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, conf).map_err(ServerError::io("writing mosquitto.conf"))?;
        let args = vec!["-c".to_owned(), conf_path.display().to_string()];
        Server::start("mosquitto", binary, args, port, DataDir::Temp(dir))
            .map(|server| Self { server, tls: false })
    }

    /// Starts one with the shipped configuration whose only listener speaks TLS (with
    /// `secured`'s server certificate) and lets only `secured`'s user in (a password file made
    /// with `mosquitto_passwd`, anonymous clients refused).
    ///
    /// # Errors
    /// As [`Mosquitto::start`], and [`ServerErrorKind::NotInstalled`] without
    /// `mosquitto_passwd` (`DDISCORD_MOSQUITTO_PASSWD`).
    pub fn start_secured(secured: &Secured) -> Result<Self, ServerError> {
        let passwd = find_binary("mosquitto_passwd", "DDISCORD_MOSQUITTO_PASSWD")?;
        let dir = tempfile::tempdir().map_err(ServerError::io("creating a data directory"))?;
        let password_file = dir.path().join("passwords");
        let status = Command::new(passwd)
            .arg("-b")
            .arg("-c")
            .arg(&password_file)
            .arg(&secured.username)
            .arg(&secured.password)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(ServerError::io("running mosquitto_passwd"))?;
        if !status.success() {
            return Err(ServerError::new(ServerErrorKind::Io {
                what: format!("mosquitto_passwd exited with {status}"),
            }));
        }
        let pki = &secured.pki;
        let lines = [
            format!("certfile {}", pki.cert_file.display()),
            format!("keyfile {}", pki.key_file.display()),
            "allow_anonymous false".to_owned(),
            format!("password_file {}", password_file.display()),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        Self::start_in_dir(dir, &lines).map(|mut m| {
            m.tls = true;
            m
        })
    }

    /// `mqtt://127.0.0.1:<port>`, or `mqtts://127.0.0.1:<port>` when secured (no credentials
    /// in it).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        format!("{scheme}://127.0.0.1:{}", self.server.port())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// The data directory (configuration, persistence database, log).
    pub fn dir(&self) -> &Path {
        self.server.dir()
    }

    /// Stops the broker gracefully (SIGTERM: persistent sessions and queues are saved).
    pub fn stop(&mut self) {
        self.server.stop(libc::SIGTERM);
    }

    /// Kills the broker (SIGKILL: what was not autosaved is lost).
    pub fn kill(&mut self) {
        self.server.stop(libc::SIGKILL);
    }

    /// Starts it again on the same port with the same data directory.
    ///
    /// # Errors
    /// As [`Mosquitto::start`].
    pub fn start_again(&mut self) -> Result<(), ServerError> {
        self.server.spawn()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::TcpStream;

    use super::*;

    #[test]
    fn servers_start_stop_and_restart() {
        let mut redis = Redis::start().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
        redis.restart().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
        let mut mosq = Mosquitto::start().unwrap();
        mosq.stop();
        assert!(TcpStream::connect(("127.0.0.1", mosq.port())).is_err());
        // A graceful stop saves the persistence database (sessions and queued messages).
        assert!(mosq.dir().join("mosquitto.db").exists());
        mosq.start_again().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", mosq.port())).is_ok());
    }

    #[test]
    fn a_given_directory_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let redis_dir = dir.path().join("redis");
        let mut redis = Redis::start_in(&redis_dir).unwrap();
        assert_eq!(redis.dir(), redis_dir);
        redis.kill();
        drop(redis);
        assert!(redis_dir.join("server.log").exists());
    }

    #[test]
    fn a_missing_binary_is_named() {
        let err = find_binary("ddiscord-no-such-server", "DDISCORD_NO_SUCH_SERVER").unwrap_err();
        assert_eq!(
            err.kind(),
            &ServerErrorKind::NotInstalled {
                binary: "ddiscord-no-such-server",
                env: "DDISCORD_NO_SUCH_SERVER"
            }
        );
    }
}
