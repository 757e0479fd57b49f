//! Solace wildcard conformance: the examples of Solace's documentation
//! (<https://docs.solace.com/Messaging/Wildcard-Charaters-Topic-Subs.htm>), plus a property test
//! against a plain reference matcher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ddiscord_model::topic::{TopicErrorKind, TopicPattern};
use proptest::prelude::*;

/// (subscription, topic, matches) taken from Solace's wildcard page, and the DDiscord trees.
const TABLE: &[(&str, &str, bool)] = &[
    // `*` alone at a level matches exactly that level.
    ("animals/domestic/*", "animals/domestic/cats", true),
    ("animals/domestic/*", "animals/domestic/dogs", true),
    ("animals/domestic/*", "animals/domestic/dogs/beagles", false),
    ("animals/*/cats", "animals/domestic/cats", true),
    ("animals/*/cats", "animals/cats", false),
    // A prefix and `*`: "prefix and 0 or more" at that level.
    ("animals/red*/wild", "animals/red/wild", true),
    ("animals/red*/wild", "animals/reddish/wild", true),
    ("animals/red*/wild", "animals/blue/wild", false),
    ("animals/red*/wild", "animals/re/wild", false),
    // `*` at several levels.
    ("animals/*/cats/*", "animals/domestic/cats/persian", true),
    ("animals/*/cats/*", "animals/wild/cats/leopard", true),
    ("animals/*/cats/*", "animals/wild/cats", false),
    // `>` matches one or more levels at the end, never zero.
    ("animals/domestic/>", "animals/domestic/cats", true),
    ("animals/domestic/>", "animals/domestic/dogs/beagles", true),
    ("animals/domestic/>", "animals/domestic", false),
    ("animals/*/>", "animals/domestic/cats/tabby/grey", true),
    (">", "animals", true),
    (">", "animals/domestic", true),
    // Levels are case-sensitive.
    ("animals/domestic/cats", "Animals/Domestic/Cats", false),
    // DDiscord's trees.
    (
        "discord/*/*/MESSAGE_*",
        "discord/0/81384788765712384/MESSAGE_CREATE",
        true,
    ),
    (
        "discord/*/*/MESSAGE_*",
        "discord/0/81384788765712384/MESSAGE_REACTION_ADD",
        true,
    ),
    (
        "discord/*/*/MESSAGE_*",
        "discord/0/81384788765712384/TYPING_START",
        false,
    ),
    ("discord/*/-/READY", "discord/3/-/READY", true),
    ("discord/3/>", "discord/3/-/READY", true),
    ("discord/3/>", "discord/30/-/READY", false),
    ("discord/>", "discord-state/3/-/READY", false),
    ("discord*/>", "discord-state/3/-/READY", true),
];

#[test]
fn solace_table() {
    for (sub, topic, expected) in TABLE {
        let p = TopicPattern::new(*sub).unwrap();
        assert_eq!(p.matches(topic), *expected, "{sub} vs {topic}");
        assert_eq!(
            reference(sub, topic),
            *expected,
            "reference: {sub} vs {topic}"
        );
    }
}

#[test]
fn invalid_patterns_name_level_and_rule() {
    let cases: &[(&str, TopicErrorKind)] = &[
        ("a/*b", TopicErrorKind::MisplacedStar { level: 2 }),
        ("a/b*c/d", TopicErrorKind::MisplacedStar { level: 2 }),
        ("a/**", TopicErrorKind::MisplacedStar { level: 2 }),
        ("a/>/b", TopicErrorKind::MisplacedGreaterThan { level: 2 }),
        ("a/b>", TopicErrorKind::MisplacedGreaterThan { level: 2 }),
        ("a/+/b", TopicErrorKind::MqttWildcard { level: 2, ch: '+' }),
        ("a/#", TopicErrorKind::MqttWildcard { level: 2, ch: '#' }),
        ("a//b", TopicErrorKind::EmptyLevel { level: 2 }),
        ("/a", TopicErrorKind::EmptyLevel { level: 1 }),
        ("a/", TopicErrorKind::EmptyLevel { level: 2 }),
        ("", TopicErrorKind::Empty),
    ];
    for (pattern, kind) in cases {
        let err = TopicPattern::new(*pattern).unwrap_err();
        assert_eq!(err.kind(), kind, "{pattern}");
        assert!(err.to_string().contains(pattern), "{err}");
    }
    let err = TopicPattern::new("discord/*/*/MESSAGE+").unwrap_err();
    assert!(err.to_string().contains("level 4"), "{err}");
}

#[test]
fn mqtt_translation() {
    let cases = [
        ("discord/*/*/READY", "discord/+/+/READY", true),
        ("discord/*/*/MESSAGE_*", "discord/+/+/+", false),
        ("discord/3/>", "discord/3/#", false),
        ("discord/3/7/X", "discord/3/7/X", true),
    ];
    for (p, filter, exact) in cases {
        let p = TopicPattern::new(p).unwrap();
        assert_eq!(p.to_mqtt_filter(), filter);
        assert_eq!(p.is_exact_in_mqtt(), exact);
    }
}

/// The plain reference: a recursive match over the pattern string, character by character.
fn reference(pattern: &str, topic: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    fn go(p: &[&str], t: &[&str]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(&">"), _) if p.len() == 1 => !t.is_empty() && t.iter().all(|l| !l.is_empty()),
            (Some(pl), Some(tl)) => {
                let ok = if let Some(prefix) = pl.strip_suffix('*') {
                    tl.starts_with(prefix) && !tl.is_empty()
                } else {
                    pl == tl
                };
                ok && go(&p[1..], &t[1..])
            }
            _ => false,
        }
    }
    go(&p, &t)
}

fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("ab".to_owned()),
        Just("abc".to_owned()),
        Just("b".to_owned()),
        "[a-c]{1,3}",
    ]
}

fn pattern_level() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => level(),
        1 => Just("*".to_owned()),
        1 => level().prop_map(|l| format!("{l}*")),
    ]
}

proptest! {
    #[test]
    fn matches_reference(
        mut pat in proptest::collection::vec(pattern_level(), 1..5),
        rest in any::<bool>(),
        topic in proptest::collection::vec(level(), 1..6),
    ) {
        if rest { pat.push(">".to_owned()); }
        let pattern = pat.join("/");
        let topic = topic.join("/");
        let p = TopicPattern::new(&pattern).unwrap();
        prop_assert_eq!(p.matches(&topic), reference(&pattern, &topic), "{} vs {}", pattern, topic);
        // The MQTT filter is never narrower than the pattern.
        if p.matches(&topic) {
            prop_assert!(mqtt_matches(&p.to_mqtt_filter(), &topic));
        }
    }

    #[test]
    fn never_panics(s in "\\PC{0,64}") {
        let _ = TopicPattern::new(&s);
        let _ = ddiscord_model::Topic::new(&s);
    }
}

/// MQTT 3.1.1 section 4.7 matching, for the "never narrower" property.
fn mqtt_matches(filter: &str, topic: &str) -> bool {
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    for (i, fl) in f.iter().enumerate() {
        match *fl {
            "#" => return true,
            "+" => {
                if i >= t.len() {
                    return false;
                }
            }
            lit => {
                if t.get(i) != Some(&lit) {
                    return false;
                }
            }
        }
    }
    f.len() == t.len()
}
