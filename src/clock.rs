//! The clock routing decisions read: business hours, owner timeouts, the opening drain. It is
//! the system clock plus an offset that tests move forward, so a test of a ten-minute timeout
//! or of tomorrow morning's opening runs in a second instead of waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

#[derive(Debug, Default)]
pub struct Clock {
    /// How far ahead of the system clock this one runs, in microseconds.
    offset_us: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        crate::persistence::now() + TimeDelta::microseconds(self.offset_us.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (tests).
    pub fn advance(&self, by: TimeDelta) {
        let us = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_us.fetch_add(us, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_by_that_much() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(TimeDelta::hours(3));
        let after = clock.now();
        assert!(after - before >= TimeDelta::hours(3));
        assert!(after - before < TimeDelta::hours(3) + TimeDelta::seconds(5));
    }
}
