//! The simulated clock.
//!
//! Every policy that Discord applies over time (IDENTIFY `max_concurrency` buckets of 5 s, the
//! `session_start_limit` reset and how long a session stays resumable) reads this clock, so tests
//! can advance it instead of waiting real seconds. Heartbeats and the 120 commands per 60 s limit
//! stay on real time because the client (twilight) heartbeats on real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which source of time the simulator follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Real (monotonic) time plus whatever was added with [`SimClock::advance`].
    #[default]
    Real,
    /// Time stands still until [`SimClock::advance`] moves it (for tests).
    Manual,
}

/// A clock in milliseconds since the simulator started. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct SimClock {
    mode: ClockMode,
    start: Instant,
    offset_ms: Arc<AtomicU64>,
}

impl SimClock {
    /// A new clock at 0 ms.
    pub fn new(mode: ClockMode) -> Self {
        Self {
            mode,
            start: Instant::now(),
            offset_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Milliseconds since the simulator started, in simulated time.
    pub fn now_ms(&self) -> u64 {
        let added = self.offset_ms.load(Ordering::SeqCst);
        match self.mode {
            ClockMode::Manual => added,
            ClockMode::Real => {
                let real = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
                real.saturating_add(added)
            }
        }
    }

    /// Moves simulated time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The mode the clock runs in.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_when_advanced() {
        let clock = SimClock::new(ClockMode::Manual);
        assert_eq!(clock.now_ms(), 0);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now_ms(), 5000);
    }
}
