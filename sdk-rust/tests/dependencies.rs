//! What the SDK packages link: the Python and Node bindings link `ddiscord` only, and neither
//! carries the embedded broker (rumqttd), which only the `ddiscord` binary enables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// `cargo tree` of `package`'s normal dependencies, one crate name per line.
fn tree(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn bindings_link_no_embedded_broker() {
    for package in ["ddiscord", "ddiscord-python", "ddiscord-node"] {
        let crates = tree(package);
        assert!(
            crates.iter().any(|c| c == "ddiscord-mesh"),
            "{package}: {crates:?}"
        );
        assert!(
            !crates.iter().any(|c| c == "rumqttd"),
            "{package} links rumqttd; only the ddiscord binary may enable ddiscord-mesh/embedded"
        );
    }
}

#[test]
fn the_binary_has_the_embedded_broker() {
    assert!(tree("ddiscord-cli").iter().any(|c| c == "rumqttd"));
}

#[test]
fn the_simulator_links_only_the_model() {
    let crates = tree("ddiscord-sim");
    let ours: Vec<&String> = crates
        .iter()
        .filter(|c| c.starts_with("ddiscord") && *c != "ddiscord-sim")
        .collect();
    assert_eq!(ours, ["ddiscord-model"], "{crates:?}");
    for c in ["redis", "rumqttc", "rumqttd"] {
        assert!(!crates.iter().any(|x| x == c), "the simulator links {c}");
    }
}
