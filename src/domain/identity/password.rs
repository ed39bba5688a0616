//! Password sign-in: argon2id in the password lane without holding a database connection,
//! the same work whether or not the account exists, and attempts limited per account and per
//! client IP (a right password does not count).

use std::sync::{Arc, LazyLock};

use crate::domain::core::Core;
use crate::domain::identity::throttle;
use crate::foundation::crypto::hashing;
use crate::foundation::crypto::password_lane::LaneError;
use crate::foundation::store::StoreError;
use crate::foundation::store::users::{self, User};

/// Verified against when there is no real hash, so a miss costs what a hit costs.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hashing::hash_password("usher-dummy-password-for-timing").ok());

#[derive(Debug)]
pub(crate) enum Outcome {
    SignedIn(User),
    /// Wrong email or password; deliberately not told apart.
    Refused,
    /// Too many failures for this account or address; try again after this many seconds.
    Throttled(i64),
    /// Too many password checks under way on this instance; try again in a moment.
    Busy,
}

/// Checks an email and password.
pub(crate) async fn authenticate(
    state: &Arc<Core>,
    email: &str,
    password: String,
    client_ip: &str,
) -> Result<Outcome, StoreError> {
    let now = state.clock.now();
    // Keys of their own: a password lock holds back neither links nor passkeys.
    let account_key = throttle::address_key("password-account", email);
    let ip_key = format!("password-ip:{client_ip}");
    let (limits, store) = (&state.login_throttle, &state.store);
    let account_wait = limits
        .count_attempt(store, &account_key, state.config.login_failures_per_account, now)
        .await?;
    let ip_wait = limits
        .count_attempt(store, &ip_key, state.config.login_failures_per_ip, now)
        .await?;
    if let Some(wait) = account_wait.max(ip_wait) {
        // Refused before the password was looked at: the attempt does not count, or a burst
        // of right passwords from one address would leave it locked after they all passed.
        limits.take_back(store, &account_key, now).await?;
        limits.take_back(store, &ip_key, now).await?;
        return Ok(Outcome::Throttled(wait));
    }
    let lookup = email.to_owned();
    let user = state
        .store
        .run(move |conn| users::find_by_email(conn, &lookup))
        .await?
        .filter(User::is_enabled);
    // argon2 runs in its own lane, holding no connection: a burst of sign-ins starves
    // neither the token endpoint of connections nor introspection of cores.
    let stored = user.as_ref().and_then(|user| user.password_hash.clone());
    let checked = state
        .password_lane
        .run(move || match (stored, DUMMY_HASH.as_deref()) {
            (Some(stored), _) => hashing::verify_password(&password, &stored),
            (None, Some(dummy)) => {
                hashing::verify_password(&password, dummy);
                false
            }
            (None, None) => false,
        })
        .await;
    let matches = match checked {
        Ok(matches) => matches,
        Err(LaneError::Busy) => {
            // Nothing was tried: the attempt does not count.
            limits.take_back(store, &account_key, now).await?;
            limits.take_back(store, &ip_key, now).await?;
            return Ok(Outcome::Busy);
        }
        Err(LaneError::Failed) => return Err(StoreError::TaskCancelled),
    };
    match user {
        Some(user) if matches => {
            limits.clear(store, &account_key).await?;
            limits.take_back(store, &ip_key, now).await?;
            Ok(Outcome::SignedIn(user))
        }
        _ => Ok(Outcome::Refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `$argon2id$v=19$m=…,t=…,p=…$`: what decides the work of a verification.
    fn parameters(phc: &str) -> String {
        phc.split('$').take(4).collect::<Vec<_>>().join("$")
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_costs() {
        let real = hashing::hash_password("a real password").unwrap();
        let dummy = DUMMY_HASH.as_deref().unwrap();
        assert_eq!(parameters(dummy), parameters(&real));
        assert!(parameters(dummy).starts_with("$argon2id$"));
    }
}
