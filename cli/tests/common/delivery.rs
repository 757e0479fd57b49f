//! What a tree delivered compared with what the simulator sent: lost, duplicated and
//! misordered dispatches by (shard, session, sequence), with examples.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use super::first;
use super::mesh::Arrival;
use super::sim::Record;

/// How many examples a message lists.
pub const EXAMPLES: usize = 5;

/// The comparison of one tree with the record.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Which tree.
    pub tree: String,
    /// Dispatches the simulator sent (first sends).
    pub sent: usize,
    /// Distinct sent dispatches that arrived.
    pub delivered: usize,
    /// Sent and never arrived: `shard/session/seq EVENT`.
    pub lost: Vec<String>,
    /// Arrivals of a dispatch already delivered (DUP-flagged retransmissions excluded).
    pub duplicates: usize,
    /// Arrivals flagged DUP by the broker.
    pub dup_flagged: usize,
    /// First arrivals that broke the session's contiguous order (`s` after a higher one, or a
    /// jump past the next sequence).
    pub misordered: Vec<String>,
    /// First arrivals below the session's highest sequence so far.
    pub inversions: usize,
    /// Arrivals the simulator never sent.
    pub unknown: Vec<String>,
}

impl Delivery {
    /// Compares `arrivals` (one tree, in arrival order) with the record's first sends.
    pub fn compare(tree: &str, record: &Record, arrivals: &[Arrival]) -> Self {
        let events = record.events();
        let mut d = Self {
            tree: tree.to_owned(),
            sent: events.len(),
            ..Self::default()
        };
        let mut got: HashSet<(u32, String, u64)> = HashSet::new();
        let mut highest: HashMap<(u32, String), u64> = HashMap::new();
        for a in arrivals {
            if a.dup {
                d.dup_flagged += 1;
                continue;
            }
            let key = (a.shard, a.session.clone(), a.seq);
            if !events.contains_key(&key) {
                d.unknown
                    .push(format!("{}/{}/{} {}", a.shard, a.session, a.seq, a.event));
            }
            if !got.insert(key) {
                d.duplicates += 1;
                continue;
            }
            let high = highest.entry((a.shard, a.session.clone())).or_insert(0);
            if a.seq <= *high {
                d.inversions += 1;
                d.misordered.push(format!(
                    "shard {} session {}: s={} ({}) after s={}",
                    a.shard, a.session, a.seq, a.event, high
                ));
            } else {
                if a.seq != *high + 1 {
                    d.misordered.push(format!(
                        "shard {} session {}: s={} ({}) right after s={} (expected s={})",
                        a.shard,
                        a.session,
                        a.seq,
                        a.event,
                        high,
                        *high + 1
                    ));
                }
                *high = a.seq;
            }
        }
        let mut lost: BTreeMap<(u32, String, u64), &String> = BTreeMap::new();
        for (key, event) in &events {
            if got.contains(key) {
                d.delivered += 1;
            } else {
                lost.insert(key.clone(), event);
            }
        }
        d.lost = lost
            .into_iter()
            .map(|((shard, session, seq), event)| format!("{shard}/{session}/{seq} {event}"))
            .collect();
        d
    }

    /// Lost per shard, for the report.
    pub fn lost_by_shard(&self) -> BTreeMap<u32, usize> {
        let mut out = BTreeMap::new();
        for l in &self.lost {
            let shard = l
                .split('/')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            *out.entry(shard).or_default() += 1;
        }
        out
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: sent {}, delivered {}, lost {} {:?} (first: {}), duplicates delivered {}, DUP retransmissions {}, out of order {} ({} inversions; first: {}), never sent {} (first: {})",
            self.tree,
            self.sent,
            self.delivered,
            self.lost.len(),
            self.lost_by_shard(),
            first(&self.lost, EXAMPLES),
            self.duplicates,
            self.dup_flagged,
            self.misordered.len(),
            self.inversions,
            first(&self.misordered, EXAMPLES),
            self.unknown.len(),
            first(&self.unknown, EXAMPLES),
        )
    }
}
