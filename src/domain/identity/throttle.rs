//! Counting failed sign-ins per key (an account, an IP address) in fixed windows. Each
//! instance counts on its own: with N instances behind a balancer an attacker gets at most N
//! times the limit, which still turns a guessing attack from millions of tries into dozens.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Beyond this many tracked keys, expired windows are swept before adding one.
const SWEEP_AT: usize = 100_000;

pub struct Throttle {
    window_secs: i64,
    failures: Mutex<HashMap<String, Window, foldhash::fast::RandomState>>,
}

#[derive(Clone, Copy)]
struct Window {
    started_at: i64,
    count: u32,
}

impl Throttle {
    pub(crate) fn new(window_secs: i64) -> Self {
        Self {
            window_secs,
            failures: Mutex::default(),
        }
    }

    /// Seconds until `key` may try again, when it has reached `limit` failures.
    pub(crate) fn blocked_for(&self, key: &str, limit: u32, now: i64) -> Option<i64> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let window = failures.get(key)?;
        let ends_at = window.started_at + self.window_secs;
        (window.count >= limit && ends_at > now).then_some(ends_at - now)
    }

    pub(crate) fn record_failure(&self, key: &str, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= SWEEP_AT {
            failures.retain(|_, window| window.started_at + self.window_secs > now);
        }
        let window = failures.entry(key.to_owned()).or_insert(Window {
            started_at: now,
            count: 0,
        });
        if window.started_at + self.window_secs <= now {
            *window = Window {
                started_at: now,
                count: 0,
            };
        }
        window.count = window.count.saturating_add(1);
    }

    pub(crate) fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_after_the_limit_until_its_window_ends() {
        let throttle = Throttle::new(60);
        for _ in 0..3 {
            assert_eq!(throttle.blocked_for("a", 3, 100), None);
            throttle.record_failure("a", 100);
        }
        assert_eq!(throttle.blocked_for("a", 3, 110), Some(50));
        assert_eq!(
            throttle.blocked_for("b", 3, 110),
            None,
            "other keys are not affected"
        );
        assert_eq!(throttle.blocked_for("a", 3, 160), None, "the window is over");
    }

    #[test]
    fn clearing_a_key_forgets_its_failures() {
        let throttle = Throttle::new(60);
        throttle.record_failure("a", 0);
        throttle.clear("a");
        assert_eq!(throttle.blocked_for("a", 1, 1), None);
    }
}
