//! The in-memory set of revoked access tokens, kept in sync with the database by
//! [`crate::app::change_feed`]. Introspection consults it without touching the database.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Default)]
pub struct RevokedTokens {
    by_jti: RwLock<HashMap<String, i64, foldhash::fast::RandomState>>,
}

impl RevokedTokens {
    pub fn is_revoked(&self, jti: &str) -> bool {
        match self.by_jti.read() {
            Ok(set) => set.contains_key(jti),
            Err(poisoned) => poisoned.into_inner().contains_key(jti),
        }
    }

    /// Remembers `jti` as revoked until `expires_at`, when the token is dead anyway.
    pub(crate) fn insert(&self, jti: String, expires_at: i64) {
        self.with_write(|set| {
            set.insert(jti, expires_at);
        });
    }

    pub(crate) fn extend(&self, entries: impl IntoIterator<Item = (String, i64)>) {
        self.with_write(|set| set.extend(entries));
    }

    /// Forgets revocations of tokens that have expired by `now`.
    pub(crate) fn prune(&self, now: i64) {
        self.with_write(|set| set.retain(|_, expires_at| *expires_at > now));
    }

    fn with_write(&self, change: impl FnOnce(&mut HashMap<String, i64, foldhash::fast::RandomState>)) {
        match self.by_jti.write() {
            Ok(mut set) => change(&mut set),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }
}
