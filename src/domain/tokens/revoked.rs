//! The in-memory set of revoked access tokens, kept in sync with the database by
//! [`crate::app::change_feed`]. Introspection consults it without touching the database.
//!
//! A revocation names one token by its `jti`, or every token of a client by
//! `client:<client_id>` (a disabled client): both travel through the same table and change
//! feed. A `jti` never contains a colon.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

type Expiries = HashMap<String, i64, foldhash::fast::RandomState>;

const CLIENT_PREFIX: &str = "client:";

/// The revocation that ends every access token of a client.
pub(crate) fn client_revocation(client_id: &str) -> String {
    format!("{CLIENT_PREFIX}{client_id}")
}

#[derive(Default)]
pub struct RevokedTokens {
    by_jti: RwLock<Expiries>,
    by_client: RwLock<Expiries>,
    /// Whether `by_client` may hold anything: the hot path skips its lock while no client
    /// was ever disabled.
    any_client: AtomicBool,
}

impl RevokedTokens {
    pub fn is_revoked(&self, jti: &str) -> bool {
        read(&self.by_jti).contains_key(jti)
    }

    /// Whether the token `jti` of `client_id` is revoked, by itself or with its client's.
    pub(crate) fn is_token_revoked(&self, jti: &str, client_id: &str) -> bool {
        self.is_revoked(jti)
            || self.any_client.load(Ordering::Acquire) && read(&self.by_client).contains_key(client_id)
    }

    /// Remembers a revocation until `expires_at`, when the tokens it names are dead anyway.
    pub(crate) fn insert(&self, revocation: String, expires_at: i64) {
        self.extend([(revocation, expires_at)]);
    }

    pub(crate) fn extend(&self, entries: impl IntoIterator<Item = (String, i64)>) {
        let (clients, tokens): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|(revocation, _)| revocation.starts_with(CLIENT_PREFIX));
        if !clients.is_empty() {
            let mut by_client = write(&self.by_client);
            by_client.extend(
                clients.into_iter().map(|(revocation, expires_at)| {
                    (revocation[CLIENT_PREFIX.len()..].to_owned(), expires_at)
                }),
            );
            self.any_client.store(true, Ordering::Release);
        }
        if !tokens.is_empty() {
            write(&self.by_jti).extend(tokens);
        }
    }

    /// Forgets revocations of tokens that have expired by `now`.
    pub(crate) fn prune(&self, now: i64) {
        write(&self.by_jti).retain(|_, expires_at| *expires_at > now);
        write(&self.by_client).retain(|_, expires_at| *expires_at > now);
    }
}

fn read(lock: &RwLock<Expiries>) -> std::sync::RwLockReadGuard<'_, Expiries> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(lock: &RwLock<Expiries>) -> std::sync::RwLockWriteGuard<'_, Expiries> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_revocation_ends_every_token_of_that_client_only() {
        let revoked = RevokedTokens::default();
        revoked.insert(client_revocation("disabled-app"), 2_000);
        assert!(revoked.is_token_revoked("any-jti", "disabled-app"));
        assert!(!revoked.is_token_revoked("any-jti", "other-app"));
    }

    #[test]
    fn a_client_revocation_is_forgotten_once_its_tokens_have_expired() {
        let revoked = RevokedTokens::default();
        revoked.insert(client_revocation("disabled-app"), 2_000);
        revoked.prune(2_000);
        assert!(!revoked.is_token_revoked("any-jti", "disabled-app"));
    }
}
