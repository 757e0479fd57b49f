//! How `ddiscord up` stops: Ctrl-C in a terminal (SIGINT to the process group) stops everything
//! in order, cleanly and fast, and leaves no private Redis behind; with its external broker gone,
//! SIGTERM still ends it within a bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ddiscord_testkit::{Mosquitto, fixtures_dir, free_port};

/// The binary under test: nextest's path (which follows an archive's extraction), else cargo's.
fn bin() -> std::path::PathBuf {
    std::env::var_os("NEXTEST_BIN_EXE_ddiscord")
        .map_or_else(|| env!("CARGO_BIN_EXE_ddiscord").into(), Into::into)
}

/// Kills the process (and its group) if a test fails before it exits.
struct Up {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.wait();
        }
    }
}

impl Up {
    /// `ddiscord up --plain` with `extra` arguments, in a process group of its own (as a
    /// terminal runs a foreground job), logs to a file.
    fn start(extra: &[&str]) -> (Self, mpsc::Receiver<String>) {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(bin())
            .args(["up", "--plain", "--run-secs", "300", "--shards", "2"])
            .args(["--guilds", "4"])
            .args(["--http-addr", &format!("127.0.0.1:{}", free_port())])
            .args(extra)
            .env("DDISCORD_FIXTURES", fixtures_dir())
            .env_remove("DDISCORD_REDIS_URL")
            .env_remove("DDISCORD_MESH_URL")
            .env_remove("DISCORD_TOKEN")
            .env_remove("DDISCORD_LOG")
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        (Self { child, log }, stdout)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    /// Waits until the log has `needle` at least `times` times.
    fn wait_log(&self, needle: &str, times: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log();
            if log.matches(needle).count() >= times {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} not logged {times} times within {within:?}; log:\n{log}"
            );
            assert!(
                !exited(self.pid()),
                "up exited before logging {needle:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to exit; its status and how long it took since `since`.
    fn wait_exit(&mut self, since: Instant, within: Duration) -> (ExitStatus, Duration) {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, since.elapsed());
            }
            assert!(
                since.elapsed() < within,
                "up did not exit within {within:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether `pid` has exited (a zombie not yet reaped, or gone), without reaping it.
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            == Some("Z")
    })
}

/// Standard output, line by line, on a channel (read on a thread until it closes).
fn lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads the header until the private Redis's line; returns its pid.
fn redis_pid(stdout: &mpsc::Receiver<String>) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = stdout
            .recv_timeout(left)
            .expect("no redis line in up's header");
        if let Some(rest) = line.split("private redis-server, pid ").nth(1) {
            return rest.trim_end_matches(')').parse().unwrap();
        }
    }
}

/// `kill <sig> <target>` (`target` `-<pgid>` for a process group).
fn signal(target: &str, sig: &str) {
    let status = Command::new("kill")
        .args([sig, "--", target])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {target}: {status}");
}

/// Whether `pid` is a live (not yet reaped) `redis-server`.
fn redis_running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("redis-server"))
}

fn assert_redis_gone(pid: u32) {
    // `up` waits for its Redis before exiting; allow the kernel a moment to reap.
    let deadline = Instant::now() + Duration::from_secs(2);
    while redis_running(pid) {
        assert!(Instant::now() < deadline, "redis-server {pid} left behind");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}

#[test]
fn ctrl_c_stops_everything_in_order_within_3_s() {
    let (mut up, stdout) = Up::start(&[]);
    let redis = redis_pid(&stdout);
    assert!(redis_running(redis));
    // Both shards connected and the state worker in its group: a full pipeline to stop.
    up.wait_log("READY: new session", 2, Duration::from_secs(60));
    up.wait_log(
        "state worker joined its consumer group",
        1,
        Duration::from_secs(10),
    );

    // Ctrl-C in a terminal: SIGINT to the whole foreground process group.
    let sent = Instant::now();
    signal(&format!("-{}", up.pid()), "-INT");
    let (status, took) = up.wait_exit(sent, Duration::from_secs(15));
    println!("ctrl-c: up exited {status} in {took:?}");
    let log = up.log();
    assert!(status.success(), "{status}; log:\n{log}");
    assert!(took < Duration::from_secs(3), "took {took:?}; log:\n{log}");
    assert_redis_gone(redis);

    // In order, cleanly: ingest persisted and closed with 4000, then the worker, then Redis.
    let position = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not logged; log:\n{log}"))
    };
    assert!(position("closed with 4000") < position("ingest stopped"));
    assert!(position("ingest stopped") < position("state worker stopped"));
    assert!(position("state worker stopped") < position("ddiscord::up: stopped"));
    assert_eq!(warnings(&log), Vec::<&str>::new(), "log:\n{log}");
    // Not a terminal: no colour codes.
    assert!(!log.contains('\x1b'), "ANSI codes in the log:\n{log}");
}

#[test]
fn sigterm_with_the_external_broker_gone_stops_within_a_bound() {
    let mut broker = Mosquitto::start().unwrap();
    let (mut up, stdout) = Up::start(&["--mesh-url", &broker.url(), "--events-per-sec", "500"]);
    let redis = redis_pid(&stdout);
    up.wait_log("READY: new session", 2, Duration::from_secs(60));
    up.wait_log(
        "state worker joined its consumer group",
        1,
        Duration::from_secs(10),
    );

    // The broker dies under load: publishes and republishes wait for acknowledgements that
    // never come.
    broker.kill();
    up.wait_log("mesh connection lost", 1, Duration::from_secs(10));

    let sent = Instant::now();
    signal(&up.pid().to_string(), "-TERM");
    let (status, took) = up.wait_exit(sent, Duration::from_secs(30));
    println!("broker gone: up exited {status} in {took:?}");
    let log = up.log();
    assert!(took < Duration::from_secs(10), "took {took:?}; log:\n{log}");
    assert!(status.success(), "{status}; log:\n{log}");
    assert_redis_gone(redis);
    assert!(Path::new(up.log.path()).exists());
}
