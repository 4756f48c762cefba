//! Where the service reads the time. In production that is the system clock; tests
//! move a shared clock forward (an expiry, a rate-limit window, the grace of a rotated
//! refresh token) instead of sleeping. Access-token times stay on the system clock: the
//! JWT library checks `exp` against it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// The system clock, plus whatever a test moved it by (nothing, in production).
#[derive(Debug, Clone)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Epoch milliseconds a test stopped the clock at; `NOT_FROZEN` while it runs.
    frozen_at_ms: Arc<AtomicI64>,
}

const NOT_FROZEN: i64 = i64::MIN;

/// The system time, unmoved: for what tests must not move (access tokens, which the JWT
/// library checks against the system clock; metric timestamps; a date of birth in the
/// past). The one place that reads it (clippy refuses `Utc::now` elsewhere).
#[allow(clippy::disallowed_methods)]
pub fn system_now() -> DateTime<Utc> {
    Utc::now()
}

impl Default for Clock {
    fn default() -> Self {
        Clock { offset_ms: Arc::default(), frozen_at_ms: Arc::new(AtomicI64::new(NOT_FROZEN)) }
    }
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self.frozen_at_ms.load(Ordering::Relaxed) {
            NOT_FROZEN => system_now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed)),
            frozen => DateTime::from_timestamp_millis(frozen).unwrap_or_default(),
        }
    }

    /// Moves this clock, and everything that shares it, forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = by.num_milliseconds();
        self.offset_ms.fetch_add(by, Ordering::Relaxed);
        let _ = self
            .frozen_at_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |at| (at != NOT_FROZEN).then_some(at + by));
    }

    /// Stops this clock where it is (it moves only by `advance` from then on), so that a
    /// test counting within one window is not carried out of it by a slow machine.
    pub fn freeze(&self) {
        self.frozen_at_ms.store(self.now().timestamp_millis(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_clock_moves_every_copy() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::days(31));
        assert!(copy.now() - before >= Duration::days(31));
    }

    #[test]
    fn a_frozen_clock_moves_only_when_moved() {
        let clock = Clock::default();
        clock.freeze();
        let at = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), at);
        clock.advance(Duration::seconds(3));
        assert_eq!(clock.now(), at + Duration::seconds(3));
    }
}
