//! A test process that fails leaves no server behind: servers are killed while a panicking
//! test unwinds, and (on Linux) by the kernel when the test process is killed outright.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ddiscord_testkit::{Mosquitto, RedisServer};

/// Set in the child test process: how it ends (`panic` or `wait`, to be killed).
const MODE: &str = "DDISCORD_TESTKIT_CHILD_MODE";

/// The child: starts both servers, prints their pids, then fails.
#[test]
#[ignore = "run by the other tests of this file in a child process"]
fn child_holding_servers() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    let redis = RedisServer::start().unwrap();
    let mosquitto = Mosquitto::start().unwrap();
    println!("pids {} {}", redis.pid().unwrap(), mosquitto.pid().unwrap());
    match mode.as_str() {
        "panic" => panic!("failing on purpose while holding servers"),
        _ => std::thread::sleep(Duration::from_secs(120)),
    }
}

/// The child test process, killed if the test fails before it exits.
struct ChildTest(std::process::Child);

impl Drop for ChildTest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs [`child_holding_servers`] in a child test process; returns it and the servers' pids.
fn start_child(mode: &str) -> (ChildTest, Vec<u32>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_holding_servers",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = ChildTest(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the child printed no pids");
        // libtest may print `test <name> ... ` before it on the same line.
        if let Some((_, pids)) = line.split_once("pids ") {
            let pids = pids.split(' ').map(|p| p.parse().unwrap()).collect();
            return (child, pids);
        }
    }
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
    let deadline = Instant::now() + Duration::from_secs(5);
    for &pid in pids {
        while running(pid) {
            assert!(Instant::now() < deadline, "server {pid} left behind");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn a_panicking_test_leaves_no_server() {
    let (mut child, pids) = start_child("panic");
    assert_eq!(pids.len(), 2);
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "the child test was meant to fail");
    assert_gone(&pids);
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_test_process_leaves_no_server() {
    let (mut child, pids) = start_child("wait");
    assert!(pids.iter().all(|&p| running(p)));
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert_gone(&pids);
}
