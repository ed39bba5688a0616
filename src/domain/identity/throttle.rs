//! Limits on attempts per key (an account, a client address, a network) in fixed windows
//! that start at a key's first attempt. Counted in the database, so every instance on it
//! shares one budget: N instances do not give an attacker N times the limit.
//!
//! An attempt is counted before it is tried, in one statement, so attempts racing on several
//! instances cannot all slip under the limit; one that turns out right is taken back.
//!
//! While the database cannot be reached, an instance counts in its own memory: the limits
//! then hold per instance, as if it were alone. Those counts are kept until their windows end
//! and still apply, added to the shared ones, once the database is back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use crate::foundation::cidr;
use crate::foundation::crypto::hashing;
use crate::foundation::store::shared_limits::{self, Window};
use crate::foundation::store::{DbConnection, Store, StoreError};

/// Beyond this many keys counted in memory, ended windows are swept before adding one.
const SWEEP_AT: usize = 100_000;

pub struct Throttle {
    window_secs: i64,
    offline: Mutex<HashMap<String, Window, foldhash::fast::RandomState>>,
}

/// A key naming an email address without holding it.
pub(crate) fn address_key(kind: &str, email: &str) -> String {
    format!("{kind}:{}", hashing::sha256_hex(email.as_bytes()))
}

/// The network a client address belongs to, as one holder usually has it: the /24 of an
/// IPv4 address, the /64 of an IPv6 one (an IPv4 address mapped into IPv6 counts as IPv4).
/// What is not an address is its own network.
pub(crate) fn network_of(client_ip: &str) -> String {
    match client_ip.parse::<IpAddr>().map(|address| address.to_canonical()) {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(IpAddr::V6(v6)) => cidr::ipv6_network(v6),
        Err(_) => client_ip.to_owned(),
    }
}

impl Throttle {
    pub(crate) fn new(window_secs: i64) -> Self {
        Self {
            window_secs,
            offline: Mutex::default(),
        }
    }

    /// Counts an attempt against `key`; the seconds until it may try again when this attempt
    /// is over `limit`.
    pub(crate) async fn count_attempt(
        &self,
        store: &Store,
        key: &str,
        limit: u32,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let window = self.count(store, key, now).await?;
        Ok(wait_beyond(window, limit, now))
    }

    /// [`Throttle::count_attempt`] on a connection in hand.
    pub(crate) fn count_attempt_in(
        &self,
        conn: &mut DbConnection,
        key: &str,
        limit: u32,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let counted = shared_limits::count_one(conn, key, self.window_secs, now);
        let window = self.with_offline(key, now, counted)?;
        Ok(wait_beyond(window, limit, now))
    }

    /// Counts one against `key` and returns its window, with no limit of its own.
    pub(crate) async fn count(&self, store: &Store, key: &str, now: i64) -> Result<Window, StoreError> {
        let (owned, window_secs) = (key.to_owned(), self.window_secs);
        let counted = store
            .run(move |conn| shared_limits::count_one(conn, &owned, window_secs, now))
            .await;
        self.with_offline(key, now, counted)
    }

    /// How many `key` has counted in its current window.
    pub(crate) async fn counted(&self, store: &Store, key: &str, now: i64) -> Result<i64, StoreError> {
        let owned = key.to_owned();
        let shared = match store
            .run(move |conn| shared_limits::current(conn, &owned, now))
            .await
        {
            Ok(window) => window.map_or(0, |window| window.count),
            Err(error) if error.is_unavailable() => 0,
            Err(error) => return Err(error),
        };
        Ok(shared + self.offline_window(key, now).map_or(0, |window| window.count))
    }

    /// Takes back the attempt just counted against `key`: it was right.
    pub(crate) async fn take_back(&self, store: &Store, key: &str, now: i64) -> Result<(), StoreError> {
        let owned = key.to_owned();
        let taken = store
            .run(move |conn| shared_limits::uncount_one(conn, &owned, now))
            .await;
        self.settle(taken, |offline| {
            if let Some(window) = offline.get_mut(key).filter(|window| window.window_end > now) {
                window.count = (window.count - 1).max(0);
            }
        })
    }

    /// [`Throttle::take_back`] on a connection in hand.
    pub(crate) fn take_back_in(
        &self,
        conn: &mut DbConnection,
        key: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let taken = shared_limits::uncount_one(conn, key, now);
        self.settle(taken, |offline| {
            if let Some(window) = offline.get_mut(key).filter(|window| window.window_end > now) {
                window.count = (window.count - 1).max(0);
            }
        })
    }

    /// Forgets every attempt counted against `key`.
    pub(crate) async fn clear(&self, store: &Store, key: &str) -> Result<(), StoreError> {
        let owned = key.to_owned();
        let forgotten = store.run(move |conn| shared_limits::forget(conn, &owned)).await;
        self.forget_offline(key);
        self.settle(forgotten, |_| ())
    }

    /// [`Throttle::clear`] on a connection in hand.
    pub(crate) fn clear_in(&self, conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
        let forgotten = shared_limits::forget(conn, key);
        self.forget_offline(key);
        self.settle(forgotten, |_| ())
    }

    /// The shared count plus what this instance counted while the database was away; when
    /// the database cannot be reached, the count is made in memory.
    fn with_offline(
        &self,
        key: &str,
        now: i64,
        counted: Result<Window, StoreError>,
    ) -> Result<Window, StoreError> {
        let mut offline = self.offline.lock().unwrap_or_else(PoisonError::into_inner);
        let local = offline.get(key).copied().filter(|window| window.window_end > now);
        match counted {
            Ok(shared) => Ok(local.map_or(shared, |local| Window {
                count: shared.count + local.count,
                window_end: shared.window_end.max(local.window_end),
            })),
            Err(error) if error.is_unavailable() => {
                tracing::warn!(%error, "counting a limit in this instance's memory: the database is unavailable");
                if offline.len() >= SWEEP_AT {
                    offline.retain(|_, window| window.window_end > now);
                }
                let window = match local {
                    Some(window) => Window {
                        count: window.count + 1,
                        ..window
                    },
                    None => Window {
                        count: 1,
                        window_end: now + self.window_secs,
                    },
                };
                offline.insert(key.to_owned(), window);
                Ok(window)
            }
            Err(error) => Err(error),
        }
    }

    fn offline_window(&self, key: &str, now: i64) -> Option<Window> {
        let offline = self.offline.lock().unwrap_or_else(PoisonError::into_inner);
        offline.get(key).copied().filter(|window| window.window_end > now)
    }

    fn forget_offline(&self, key: &str) {
        self.offline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Applies `offline` to the memory counts when the database could not be reached.
    fn settle(
        &self,
        outcome: Result<(), StoreError>,
        offline: impl FnOnce(&mut HashMap<String, Window, foldhash::fast::RandomState>),
    ) -> Result<(), StoreError> {
        match outcome {
            Err(error) if error.is_unavailable() => {
                offline(&mut self.offline.lock().unwrap_or_else(PoisonError::into_inner));
                Ok(())
            }
            other => other,
        }
    }
}

/// The seconds until the window ends, when `window` holds more than `limit`.
fn wait_beyond(window: Window, limit: u32, now: i64) -> Option<i64> {
    (window.count > i64::from(limit)).then_some(window.window_end - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 2).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_key_is_refused_beyond_its_limit_until_its_window_ends() {
        let (_dir, store) = sqlite_store();
        let throttle = Throttle::new(60);
        for _ in 0..3 {
            assert_eq!(throttle.count_attempt(&store, "a", 3, 100).await.unwrap(), None);
        }
        assert_eq!(
            throttle.count_attempt(&store, "a", 3, 110).await.unwrap(),
            Some(50)
        );
        assert_eq!(
            throttle.count_attempt(&store, "b", 3, 110).await.unwrap(),
            None,
            "other keys are not affected"
        );
        assert_eq!(
            throttle.count_attempt(&store, "a", 3, 160).await.unwrap(),
            None,
            "the window is over"
        );
    }

    #[tokio::test]
    async fn an_attempt_taken_back_does_not_count() {
        let (_dir, store) = sqlite_store();
        let throttle = Throttle::new(60);
        for _ in 0..3 {
            throttle.count_attempt(&store, "a", 1, 0).await.unwrap();
            throttle.take_back(&store, "a", 0).await.unwrap();
        }
        assert_eq!(throttle.count_attempt(&store, "a", 1, 1).await.unwrap(), None);
    }

    #[tokio::test]
    async fn clearing_a_key_forgets_its_attempts() {
        let (_dir, store) = sqlite_store();
        let throttle = Throttle::new(60);
        throttle.count_attempt(&store, "a", 1, 0).await.unwrap();
        throttle.clear(&store, "a").await.unwrap();
        assert_eq!(throttle.count_attempt(&store, "a", 1, 1).await.unwrap(), None);
    }

    #[tokio::test]
    async fn two_instances_on_one_database_share_a_budget() {
        let (_dir, store) = sqlite_store();
        let (first, second) = (Throttle::new(60), Throttle::new(60));
        assert_eq!(first.count_attempt(&store, "a", 2, 0).await.unwrap(), None);
        assert_eq!(second.count_attempt(&store, "a", 2, 1).await.unwrap(), None);
        assert_eq!(first.count_attempt(&store, "a", 2, 2).await.unwrap(), Some(58));
    }

    #[tokio::test]
    async fn without_the_database_an_instance_counts_alone_and_remembers_it_after() {
        let (_dir, store) = sqlite_store();
        let throttle = Throttle::new(60);
        let away = Err(StoreError::Unavailable("test".into()));
        throttle.with_offline("a", 0, away).unwrap();
        let away = Err(StoreError::Unavailable("test".into()));
        let window = throttle.with_offline("a", 1, away).unwrap();
        assert_eq!(window.count, 2, "counted in memory");
        assert_eq!(
            throttle.count_attempt(&store, "a", 2, 2).await.unwrap(),
            Some(60),
            "the two counted while away still count, until the later window ends"
        );
    }

    #[test]
    fn networks_are_the_slash_24_of_ipv4_and_the_slash_64_of_ipv6() {
        assert_eq!(network_of("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(network_of("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(network_of(""), "");
    }

    #[test]
    fn address_keys_do_not_hold_the_address() {
        let key = address_key("password", "viewer@example.com");
        assert!(key.starts_with("password:"));
        assert!(!key.contains("viewer"));
    }
}
