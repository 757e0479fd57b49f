//! The broker-side filters of one connection: a set of pairwise disjoint MQTT filters that
//! covers every local subscription.
//!
//! Brokers may deliver a message once per matching subscription of a connection (MQTT 3.1.1
//! §3.3.5 allows it, MQTT 5 §3.3.4 makes it per subscription; Mosquitto does so for MQTT 5 and
//! rumqttd for 3.1.1). Overlapping filters such as `a/+/+` and `a/0/#` would then deliver
//! `a/0/x` twice, and the local fan-out would hand each subscriber two copies. So the
//! connection subscribes to a disjoint cover instead: a filter covered by another is not
//! subscribed, and overlapping filters are merged into their generalisation (`a/+/+` +
//! `a/0/#` → `a/+/#`). Every message then arrives once, and local matching with
//! [`ddiscord_model::topic::TopicPattern::matches`] keeps the semantics exact.

/// Whether some topic matches both filters.
pub(crate) fn overlap(a: &str, b: &str) -> bool {
    let mut a = a.split('/');
    let mut b = b.split('/');
    loop {
        match (a.next(), b.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (Some(x), Some(y)) => {
                if x != "+" && y != "+" && x != y {
                    return false;
                }
            }
            (None, None) => return true,
            // One ended: `x/#` also matches `x`.
            (None, Some(rest)) | (Some(rest), None) => return rest == "#",
        }
    }
}

/// Whether every topic matching `inner` also matches `outer`.
pub(crate) fn covers(outer: &str, inner: &str) -> bool {
    let mut o = outer.split('/');
    let mut i = inner.split('/');
    loop {
        match (o.next(), i.next()) {
            (Some("#"), _) => return true,
            (_, Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(x), Some(y)) => {
                if x != y {
                    return false;
                }
            }
            (None, None) => return true,
            (None, Some(_)) => return false,
            (Some(next), None) => return next == "#",
        }
    }
}

/// The narrowest filter of this simple shape that covers both.
pub(crate) fn generalize(a: &str, b: &str) -> String {
    let al: Vec<&str> = a.split('/').collect();
    let bl: Vec<&str> = b.split('/').collect();
    let mut out: Vec<&str> = Vec::new();
    for (x, y) in al.iter().zip(bl.iter()) {
        if *x == "#" || *y == "#" {
            out.push("#");
            return out.join("/");
        }
        out.push(if x == y { x } else { "+" });
    }
    if al.len() != bl.len() {
        out.push("#");
    }
    out.join("/")
}

/// A disjoint cover of `filters` (deterministic for a given set).
pub(crate) fn cover<'a>(filters: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut sorted: Vec<&str> = filters.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    for f in sorted {
        if out.iter().any(|c| covers(c, f)) {
            continue;
        }
        let mut merged = f.to_owned();
        while let Some(i) = out.iter().position(|c| overlap(c, &merged)) {
            let other = out.swap_remove(i);
            merged = generalize(&other, &merged);
        }
        out.push(merged);
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps() {
        assert!(overlap("a/+/+", "a/0/#"));
        assert!(overlap("a/b", "a/b"));
        assert!(overlap("a/#", "a"));
        assert!(overlap("+/b", "a/+"));
        assert!(!overlap("a/b", "a/c"));
        assert!(!overlap("a/b", "a/b/c"));
        assert!(!overlap("a/+", "a/b/c"));
    }

    #[test]
    fn covering() {
        assert!(covers("a/#", "a/b/c"));
        assert!(covers("a/#", "a"));
        assert!(covers("a/+", "a/b"));
        assert!(covers("#", "x/y"));
        assert!(!covers("a/+", "a/#"));
        assert!(!covers("a/b", "a/+"));
        assert!(!covers("a/+", "a/b/c"));
    }

    #[test]
    fn covers_are_disjoint_and_complete() {
        let inputs = ["w/+/+/+", "w/+/123/+", "w/0/#", "x/a", "x/b", "x/a/c"];
        let c = cover(inputs.iter().copied());
        for (i, a) in c.iter().enumerate() {
            for b in &c[i + 1..] {
                assert!(!overlap(a, b), "{a} and {b} overlap in {c:?}");
            }
        }
        for f in inputs {
            assert!(c.iter().any(|x| covers(x, f)), "{f} not covered by {c:?}");
        }
        assert_eq!(cover(["a/b", "a/c"]), ["a/b", "a/c"]);
        assert_eq!(cover(["a/+/+", "a/0/#"]), ["a/+/#"]);
        assert_eq!(cover(["discord/+/+/+", "discord/3/#"]), ["discord/+/#"]);
    }

    proptest::proptest! {
        #[test]
        fn random_covers_are_disjoint_and_complete(
            filters in proptest::collection::vec("(a|b|\\+)(/(a|b|\\+)){0,3}(/#)?", 1..8)
        ) {
            let c = cover(filters.iter().map(String::as_str));
            for (i, a) in c.iter().enumerate() {
                for b in &c[i + 1..] {
                    proptest::prop_assert!(!overlap(a, b), "{} and {} overlap in {:?}", a, b, c);
                }
            }
            for f in &filters {
                proptest::prop_assert!(c.iter().any(|x| covers(x, f)), "{} not covered by {:?}", f, c);
            }
        }
    }
}
