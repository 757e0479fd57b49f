//! The fuzz targets' bodies, shared by the cargo-fuzz binaries (`fuzz_targets/`) and the stable
//! smoke test (`model/tests/fuzz_smoke.rs`). Each must never panic on any input, and checks a few
//! invariants on the inputs that parse.

// Each fuzz binary uses one of the two targets.
#![allow(dead_code)]

use bytes::Bytes;
use ddiscord_model::envelope::{Envelope, EnvelopeMeta, FrameHead, wrap};
use ddiscord_model::topic::{Topic, TopicPattern, Topics};

/// Gateway frames and envelopes: parse, wrap, re-parse.
pub fn envelope(data: &[u8]) {
    let head = FrameHead::parse(data);
    if let Ok(head) = &head {
        let _ = head.guild_id();
    }
    let meta = EnvelopeMeta {
        shard: 7,
        session: Some("fuzz\"session"),
        received_ms: 42,
    };
    if let Ok(wrapped) = wrap(&meta, data) {
        // A frame that parses still parses once wrapped, with the spliced fields.
        if head.is_ok() {
            let env = Envelope::parse(wrapped).expect("a wrapped valid frame must parse");
            assert_eq!(env.shard(), 7);
            assert_eq!(env.session(), Some("fuzz\"session"));
            assert_eq!(env.received_ms(), 42);
        }
    }
    if let Ok(env) = Envelope::parse(Bytes::copy_from_slice(data)) {
        let _ = env.guild_id();
        let _ = env.d_raw();
        let _ = env.event();
        let _ = env.payload::<serde_json::Value>();
    }
}

/// MQTT filter matching (MQTT 3.1.1 §4.7), to check the translation of patterns.
fn mqtt_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Topics and patterns: validate, match, translate. The input is split at the first newline
/// into a pattern and a topic.
pub fn topic(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = s.split_once('\n').unwrap_or((s, s));
    let topics = Topics::new("discord").expect("a valid root");
    let _ = topics.parse_dispatch(a);
    let _ = topics.parse_dispatch(b);
    let pattern = TopicPattern::new(a);
    let topic = Topic::new(b);
    let _ = Topic::new(a);
    let _ = TopicPattern::new(b);
    if let Ok(p) = &pattern {
        let filter = p.to_mqtt_filter();
        let _ = p.is_exact_in_mqtt();
        if p.is_literal() {
            assert!(p.matches(p.as_str()), "a literal pattern matches itself");
        }
        if let Ok(t) = &topic {
            let m = p.matches(t.as_str());
            // The MQTT filter is never narrower than the pattern.
            if m {
                assert!(
                    mqtt_matches(&filter, t.as_str()),
                    "{t} matches {p} but not its MQTT filter {filter}"
                );
            }
            if p.is_exact_in_mqtt() {
                assert_eq!(
                    m,
                    mqtt_matches(&filter, t.as_str()),
                    "{p} vs {filter} on {t}"
                );
            }
        }
    }
}
