//! The code and `topics.yaml` must agree: every tree's template, formatted with sample values,
//! equals what the builders produce, and the parser reads it back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ddiscord_model::contract::{self, GuildSource};
use ddiscord_model::topic::{Topics, Tree};

fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut s = template.to_owned();
    for (k, v) in values {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    assert!(!s.contains('{'), "unrendered level in {s}");
    s
}

#[test]
fn trees_match_builders() {
    let t = Topics::new("mybot").unwrap();
    let guild = "81384788765712384";
    let vals = [
        ("root", "mybot"),
        ("shard", "7"),
        ("guild", guild),
        ("event", "MESSAGE_CREATE"),
        ("command", "PRESENCE_UPDATE"),
        ("group", "state"),
        ("interaction", "1234567890123456789"),
    ];
    let tree = |name: &str| render(Tree::from_name(name).unwrap().pattern(), &vals);
    let g = Some(guild.parse().unwrap());
    assert_eq!(
        tree("dispatch"),
        t.dispatch(7, g, "MESSAGE_CREATE").unwrap().as_str()
    );
    assert_eq!(
        tree("state"),
        t.state(7, g, "MESSAGE_CREATE").unwrap().as_str()
    );
    assert_eq!(
        tree("command"),
        t.command(7, "PRESENCE_UPDATE").unwrap().as_str()
    );
    assert_eq!(
        tree("lifecycle"),
        t.lifecycle(7, "MESSAGE_CREATE").unwrap().as_str()
    );
    assert_eq!(
        tree("dead_letter"),
        t.dead_letter("state", 7).unwrap().as_str()
    );
    assert_eq!(
        tree("interaction_reply"),
        t.interaction_reply(1234567890123456789).unwrap().as_str()
    );
    assert_eq!(
        Tree::ALL.len(),
        6,
        "a new tree needs a builder and this test"
    );

    let state = tree("state");
    let parsed = t.parse_dispatch(&state).unwrap();
    assert_eq!(parsed.tree, Tree::State);
    assert_eq!(t.tree_root(Tree::Lifecycle), "mybot-lifecycle");
}

#[test]
fn placeholder_and_default_root() {
    let t = Topics::default();
    assert_eq!(t.root(), contract::DEFAULT_ROOT);
    let ready = t.dispatch(0, None, "READY").unwrap();
    assert_eq!(
        ready.as_str(),
        format!(
            "{}/0/{}/READY",
            contract::DEFAULT_ROOT,
            contract::NO_GUILD_PLACEHOLDER
        )
    );
    assert_eq!(t.parse_dispatch(ready.as_str()).unwrap().guild, None);
}

#[test]
fn dispatch_table_is_sane() {
    for (name, _) in contract::DISPATCHES {
        assert!(
            name.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'),
            "{name}"
        );
    }
    for name in ["GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"] {
        assert_eq!(contract::guild_source(name), GuildSource::Id);
    }
    assert_eq!(contract::guild_source("READY"), GuildSource::None);
    assert_eq!(
        contract::guild_source("NOT_DOCUMENTED_YET"),
        GuildSource::Optional
    );
    assert!(!contract::is_known_dispatch("VOICE_CHANNEL_STATUS_UPDATE"));
    // Envelope fields the code splices or reads.
    for field in ["shard", "session", "received_ms", "op", "t", "s", "d"] {
        assert!(
            contract::ENVELOPE_FIELDS.iter().any(|(f, _)| *f == field),
            "{field}"
        );
    }
    assert_eq!(contract::ENVELOPE_FIELDS.len(), 7);
}

/// Every dispatch in the captured fixtures routes to the guild the payload names.
#[test]
fn fixture_dispatches_route() {
    let dir = ddiscord_testkit::fixtures_dir();
    let Ok(text) = std::fs::read_to_string(dir.join("events_v10.jsonl")) else {
        eprintln!("fixtures not found beside the repository; skipped");
        return;
    };
    let mut routed = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let head = ddiscord_model::FrameHead::parse(line.as_bytes()).unwrap();
        if head.op != 0 {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let expected = v["d"]["guild_id"]
            .as_str()
            .or_else(|| {
                matches!(head.t.as_deref(), Some("GUILD_CREATE"))
                    .then(|| v["d"]["id"].as_str())
                    .flatten()
            })
            .map(|s| s.parse::<u64>().unwrap());
        assert_eq!(head.guild_id().unwrap(), expected, "{:?}", head.t);
        routed += 1;
    }
    assert!(routed >= 15);
}
