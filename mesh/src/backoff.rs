//! Exponential backoff with jitter for reconnecting.

use std::time::Duration;

use rand::Rng as _;

/// First delay after a failure.
pub(crate) const INITIAL: Duration = Duration::from_millis(100);
/// Longest delay between attempts.
pub(crate) const MAX: Duration = Duration::from_secs(5);

/// Doubles from [`INITIAL`] up to [`MAX`], with ±20 % jitter so that many clients do not
/// reconnect in lockstep after a broker restart.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self { next: INITIAL }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(MAX);
        let jitter = rand::rng().random_range(0.8..1.2);
        base.mul_f64(jitter)
    }

    /// After a successful connection.
    pub(crate) fn reset(&mut self) {
        self.next = INITIAL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let mut b = Backoff::new();
        let first = b.next_delay();
        assert!(first >= INITIAL.mul_f64(0.8) && first <= INITIAL.mul_f64(1.2));
        for _ in 0..20 {
            assert!(b.next_delay() <= MAX.mul_f64(1.2));
        }
        b.reset();
        assert!(b.next_delay() <= INITIAL.mul_f64(1.2));
    }
}
