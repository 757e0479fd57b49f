//! `ddiscord dev services`, which the Python and Node tests start their servers through: one
//! JSON line with the servers, commands on standard input, and no server left behind however
//! it ends (standard input closed, SIGTERM, SIGKILL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ddiscord");

/// A running `ddiscord dev services`, killed if the test fails before it ends.
struct Services {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Services {
    fn start(args: &[&str]) -> (Self, Value) {
        let mut child = Command::new(BIN)
            .args(["dev", "services"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut services = Self {
            child,
            stdin,
            stdout,
        };
        let started = services.read();
        (services, started)
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    fn command(&mut self, line: &str) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        self.read()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pid(v: &Value) -> u32 {
    u32::try_from(v["pid"].as_u64().unwrap()).unwrap()
}

fn port(v: &Value) -> u16 {
    u16::try_from(v["port"].as_u64().unwrap()).unwrap()
}

/// Whether `pid` runs (exists and is not a zombie waiting to be reaped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            != Some("Z")
    })
}

fn assert_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for &pid in pids {
        while running(pid) {
            assert!(Instant::now() < deadline, "server {pid} left behind");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn servers_start_restart_and_stop_with_standard_input() {
    let (mut services, started) = Services::start(&["--redis", "--mosquitto"]);
    let (redis, mosquitto) = (&started["redis"], &started["mosquitto"]);
    assert_eq!(
        redis["url"],
        format!("redis://127.0.0.1:{}", port(redis)).as_str()
    );
    assert_eq!(
        mosquitto["url"],
        format!("mqtt://127.0.0.1:{}", port(mosquitto)).as_str()
    );
    assert!(TcpStream::connect(("127.0.0.1", port(redis))).is_ok());
    assert!(TcpStream::connect(("127.0.0.1", port(mosquitto))).is_ok());

    let killed = services.command("kill mosquitto");
    assert_eq!(killed["ok"], true, "{killed}");
    assert!(killed["pid"].is_null());
    assert!(TcpStream::connect(("127.0.0.1", port(mosquitto))).is_err());
    let again = services.command("start mosquitto");
    assert_eq!(again["ok"], true, "{again}");
    assert!(TcpStream::connect(("127.0.0.1", port(mosquitto))).is_ok());

    let wrong = services.command("start postgres");
    assert_eq!(wrong["ok"], false, "{wrong}");

    // Standard input closes: both servers stop, and so does the command.
    drop(services.stdin.take());
    assert!(services.child.wait().unwrap().success());
    assert_gone(&[pid(redis), pid(&again)]);
}

#[test]
fn sigterm_stops_the_servers() {
    let (mut services, started) = Services::start(&["--redis"]);
    let status = Command::new("kill")
        .args(["-TERM", &services.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(services.child.wait().unwrap().success());
    assert_gone(&[pid(&started["redis"])]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_command_leaves_no_server() {
    let (mut services, started) = Services::start(&["--redis", "--mosquitto"]);
    services.child.kill().unwrap();
    services.child.wait().unwrap();
    assert_gone(&[pid(&started["redis"]), pid(&started["mosquitto"])]);
}

#[test]
fn a_missing_server_binary_is_named() {
    let out = Command::new(BIN)
        .args(["dev", "services", "--mosquitto"])
        .env("DDISCORD_MOSQUITTO", "/nonexistent/mosquitto")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/mosquitto"), "{err}");
}
