//! Time, injectable: every timer of the service (escalation, digests, roster deadlines, report
//! arrival) reads a [`Clock`], so that tests drive them by moving a [`ManualClock`] instead of
//! waiting. Deadlines are calendar days in China Standard Time: [`nianbao_directory::Date`], with
//! the directory whose deadlines they are.

// The millisecond units stay reachable here, where the timers that count in them are.
pub use nianbao_directory::date::{DAY_MS, HOUR_MS, MINUTE_MS};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The shared handle the service passes around.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        nianbao_service::now_ms()
    }
}

/// A clock that stands still until told to move (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicI64::new(ms)))
    }

    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn advance_hours(&self, hours: i64) {
        self.advance_ms(hours * HOUR_MS);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance_hours(2);
        assert_eq!(c.now_ms(), 1_000 + 2 * HOUR_MS);
        c.set(5);
        assert_eq!(c.now_ms(), 5);
    }
}
