//! Request rates per channel ([`RequestRate`]: inbound messages, webhook deliveries) and
//! throttling of failed logins, per account and per address (CONTRACT.md: at most 20 in a row,
//! then `429` with `Retry-After`). `governor` does the rate arithmetic (GCRA): each key may fail
//! `burst` times, and regains one attempt per `replenish`. Once a key runs out it is locked
//! until governor says the next attempt is allowed, and while locked even the right password is
//! refused, so guessing on through the lock learns nothing.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::domain::ids::ChannelId;
use crate::error::ApiError;

/// Requests per second per channel, with a second's worth of burst; past it `429` with the
/// wait in `Retry-After`. Keys are channels that exist (checked first), so the map stays small.
pub struct RequestRate {
    limiter: Option<DefaultKeyedRateLimiter<ChannelId>>,
    clock: DefaultClock,
    what: &'static str,
}

impl RequestRate {
    /// `per_second` 0: unlimited. `what` names the limit in the error.
    pub fn new(per_second: u32, what: &'static str) -> Self {
        Self {
            limiter: NonZeroU32::new(per_second)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_second(n))),
            clock: DefaultClock::default(),
            what,
        }
    }

    pub fn check(&self, channel: ChannelId) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&channel).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let mut error = ApiError::too_many_requests(wait);
            error.message = format!("{} for this channel exceeded; {}", self.what, error.message);
            error
        })
    }
}

pub struct LoginThrottle {
    failures: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    /// Keys that ran out, and until when.
    locked: Mutex<HashMap<String, Instant>>,
}

/// Above this many locked keys, expired ones are dropped (an attacker rotating addresses
/// must not grow the map without bound).
const PRUNE_ABOVE: usize = 10_000;

impl LoginThrottle {
    pub fn new(burst: NonZeroU32, replenish: Duration) -> Self {
        let quota = Quota::with_period(replenish)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            failures: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            locked: Mutex::default(),
        }
    }

    /// The keys of one login attempt: the account and the caller's address.
    pub fn keys(email: &str, address: Option<std::net::IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("account:{email}")];
        if let Some(ip) = address {
            keys.push(format!("address:{ip}"));
        }
        keys
    }

    /// `Err(wait)` while any of the keys is locked.
    pub fn check(&self, keys: &[String]) -> Result<(), Duration> {
        let now = Instant::now();
        let locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys
            .iter()
            .filter_map(|k| locked.get(k))
            .filter(|until| **until > now)
            .map(|until| *until - now)
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed attempt against every key; `Err(wait)` if it used up a key's allowance.
    pub fn failed(&self, keys: &[String]) -> Result<(), Duration> {
        let mut wait = None;
        for key in keys {
            if let Err(not_until) = self.failures.check_key(key) {
                let until = not_until.wait_time_from(self.clock.now());
                wait = wait.max(Some(until));
                let mut locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
                if locked.len() > PRUNE_ABOVE {
                    let now = Instant::now();
                    locked.retain(|_, until| *until > now);
                    self.failures.retain_recent();
                }
                locked.insert(key.clone(), Instant::now() + until);
            }
        }
        wait.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_gets_its_rate_and_others_are_not_affected() {
        let rate = RequestRate::new(5, "inbound messages per second");
        let (a, b) = (ChannelId::new(), ChannelId::new());
        for _ in 0..5 {
            assert!(rate.check(a).is_ok());
        }
        let refused = rate.check(a).unwrap_err();
        assert_eq!(
            refused.status,
            actix_web::http::StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(refused.retry_after, Some(1));
        assert!(rate.check(b).is_ok());
        let unlimited = RequestRate::new(0, "anything");
        for _ in 0..10_000 {
            assert!(unlimited.check(a).is_ok());
        }
    }

    #[test]
    fn a_key_locks_after_its_burst_of_failures_and_others_do_not() {
        let throttle = LoginThrottle::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(60));
        let ana = LoginThrottle::keys("ana@example.com", None);
        let beto = LoginThrottle::keys("beto@example.com", None);
        for _ in 0..3 {
            assert!(throttle.check(&ana).is_ok());
            assert!(throttle.failed(&ana).is_ok());
        }
        let wait = throttle.failed(&ana).unwrap_err();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(throttle.check(&ana).is_err());
        assert!(throttle.check(&beto).is_ok());
    }

    #[test]
    fn an_address_locks_whatever_account_it_tries() {
        let throttle = LoginThrottle::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(60));
        let ip = Some("203.0.113.7".parse().unwrap());
        assert!(
            throttle
                .failed(&LoginThrottle::keys("a@example.com", ip))
                .is_ok()
        );
        assert!(
            throttle
                .failed(&LoginThrottle::keys("b@example.com", ip))
                .is_ok()
        );
        assert!(
            throttle
                .failed(&LoginThrottle::keys("c@example.com", ip))
                .is_err()
        );
        assert!(
            throttle
                .check(&LoginThrottle::keys("d@example.com", ip))
                .is_err()
        );
        assert!(
            throttle
                .check(&LoginThrottle::keys("d@example.com", None))
                .is_ok()
        );
    }
}
