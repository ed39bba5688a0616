//! Password sign-in: argon2id on the blocking pool, the same work whether or not the account
//! exists, and failures throttled per account and per client IP.

use std::sync::LazyLock;

use crate::crypto::hashing;
use crate::state::AppState;
use crate::store::users::{self, User};
use crate::store::{DbConnection, StoreError};

/// Verified against when there is no real hash, so a miss costs what a hit costs.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hashing::hash_password("usher-dummy-password-for-timing").ok());

#[derive(Debug)]
pub enum Outcome {
    SignedIn(User),
    /// Wrong email or password; deliberately not told apart.
    Refused,
    /// Too many failures for this account or address; try again after this many seconds.
    Throttled(i64),
}

/// Checks an email and password. Runs argon2: call it on the blocking pool.
pub fn authenticate(
    state: &AppState,
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    client_ip: &str,
    now: i64,
) -> Result<Outcome, StoreError> {
    let account_key = format!("account:{email}");
    let ip_key = format!("ip:{client_ip}");
    let throttle = &state.login_throttle;
    let blocked = throttle
        .blocked_for(&account_key, state.config.login_failures_per_account, now)
        .max(throttle.blocked_for(&ip_key, state.config.login_failures_per_ip, now));
    if let Some(wait) = blocked {
        return Ok(Outcome::Throttled(wait));
    }
    let user = users::find_by_email(conn, email)?.filter(|user| user.disabled_at.is_none());
    let stored = user.as_ref().and_then(|user| user.password_hash.as_deref());
    let matches = match (stored, DUMMY_HASH.as_deref()) {
        (Some(stored), _) => hashing::verify_password(password, stored),
        (None, Some(dummy)) => {
            hashing::verify_password(password, dummy);
            false
        }
        (None, None) => false,
    };
    match user {
        Some(user) if matches => {
            throttle.clear(&account_key);
            Ok(Outcome::SignedIn(user))
        }
        _ => {
            throttle.record_failure(&account_key, now);
            throttle.record_failure(&ip_key, now);
            Ok(Outcome::Refused)
        }
    }
}
