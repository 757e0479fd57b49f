//! The README's `tail` and `publish` examples, run against a private Mosquitto.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ddiscord_testkit::Mosquitto;

const BIN: &str = env!("CARGO_BIN_EXE_ddiscord");

fn example() -> String {
    format!(
        "{}/../examples/message_create.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn tail_prints_what_publish_sends() {
    let broker = Mosquitto::start().unwrap();
    let mut tail = Command::new(BIN)
        .args(["tail", "discord/*/*/MESSAGE_*", "-n", "1"])
        .env("DDISCORD_MESH_URL", broker.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until tail says it is subscribed.
    let mut err = BufReader::new(tail.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("tailing") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "tail exited early");
    }
    // Publish until tail has seen one (a subscription is live shortly after SUBACK).
    let out = tail.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut first = String::new();
        BufReader::new(out).read_line(&mut first).unwrap();
        first
    });
    for _ in 0..50 {
        let status = Command::new(BIN)
            .args([
                "publish",
                "--guaranteed",
                "discord/0/381880193251409931/MESSAGE_CREATE",
                &example(),
            ])
            .env("DDISCORD_MESH_URL", broker.url())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        if reader.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let first = reader.join().unwrap();
    assert_eq!(
        first.trim(),
        "discord/0/381880193251409931/MESSAGE_CREATE shard=0 s=1 guild=381880193251409931 513B"
    );
    assert!(tail.wait().unwrap().success());
}

#[test]
fn bad_topics_are_clear_errors() {
    let out = Command::new(BIN)
        .args(["publish", "discord/*/x", &example()])
        .env("DDISCORD_MESH_URL", "mqtt://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("level 2 contains `*`"), "{err}");

    let out = Command::new(BIN)
        .args(["tail", "discord/a*b"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("level 2 has `*` before its end"));
}
