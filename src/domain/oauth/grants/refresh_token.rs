//! The refresh token grant (RFC 6749 §6) with rotation: every use returns a new refresh
//! token and retires the old one. A retired token presented again gets the same successor
//! while that successor has never been used: its answer may have been lost (a crash, a slow
//! restart, a dropped connection), however long ago. Once the successor has been used, a
//! retired token presented again means two parties hold it, so the whole family is revoked
//! (RFC 9700 §4.14.2), unless it comes back within a short grace after its rotation, which is
//! two tabs of one browser refreshing together.

use std::sync::Arc;

use crate::domain::core::Core;
use crate::domain::oauth::client_auth::ClientCredentials;
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::parameters::Parameters;
use crate::domain::oauth::scopes;
use crate::domain::oauth::token_response::TokenResponse;
use crate::domain::oauth::user_tokens::{self, Authorization, Planned};
use crate::domain::profiles::{self, Locked};
use crate::domain::tokens::revocation::revoke_access_tokens;
use crate::foundation::crypto::hashing;
use crate::foundation::store::clients::Client;
use crate::foundation::store::refresh_tokens;
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError, users};

pub(crate) const GRANT_TYPE: &str = "refresh_token";

pub(crate) async fn grant(
    state: &Arc<Core>,
    credentials: &ClientCredentials<'_>,
    form: &impl Parameters,
) -> Result<TokenResponse, OAuthError> {
    let client = state.clients.any(&state.store, credentials).await?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the refresh token grant",
        ));
    }
    let presented = form.require("refresh_token")?.to_owned();
    let requested_scope = form.get("scope").map(scopes::parse).transpose()?;
    if requested_scope.as_ref().is_some_and(Vec::is_empty) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is empty"));
    }
    let switch_to = match form.get("profile") {
        Some(profile_id) => {
            Some(unlock_profile(state, &client, &presented, profile_id, form.get("profile_pin")).await?)
        }
        None if form.get("profile_pin").is_some() => {
            return Err(OAuthError::invalid_request(
                "profile_pin was sent without profile",
            ));
        }
        None => None,
    };

    let worker_state = Arc::clone(state);
    let outcome = state
        .store
        .run(move |conn| {
            transaction(conn, |conn| {
                rotate(
                    &worker_state,
                    conn,
                    &client,
                    &presented,
                    requested_scope.as_deref(),
                    switch_to.as_deref(),
                )
            })
        })
        .await?;
    let planned = outcome?;
    Ok(planned.issue(state)?)
}

/// The extension parameters (RFC 6749 §8.2) that switch a refresh to another profile.
pub(crate) const PROFILE_SWITCH_PARAMETERS: [&str; 2] = ["profile", "profile_pin"];

/// Checks a switch to the profile `profile_id` before the rotation: the refresh token must
/// carry scope `profiles`, and the profile must be its account's, unlocked with `pin` where it
/// has one. The PIN is checked (and counted, [`profiles::unlock`]) outside the rotation's
/// transaction: argon2 never holds a family's lock or a database connection.
async fn unlock_profile(
    state: &Arc<Core>,
    client: &Client,
    presented: &str,
    profile_id: &str,
    pin: Option<&str>,
) -> Result<String, OAuthError> {
    let token_hash = hashing::sha256_hex(presented.as_bytes());
    let token = state
        .store
        .run(move |conn| refresh_tokens::find(conn, &token_hash))
        .await?
        .filter(|token| token.client_id == client.client_id)
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is not valid"))?;
    if !token.scope.split(' ').any(|scope| scope == scopes::PROFILES) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "switching profiles needs a refresh token granted scope profiles",
        ));
    }
    match profiles::unlock(state, &token.user_id, profile_id, pin).await? {
        Ok(profile) => Ok(profile.id),
        Err(Locked::Unknown) => Err(OAuthError::invalid_request(
            "profile is not one of the account's profiles",
        )),
        Err(Locked::PinNeeded(_)) => Err(OAuthError::invalid_request(
            "profile_pin is required: the profile has a PIN",
        )),
        Err(Locked::WrongPin(_)) => Err(OAuthError::invalid_grant("profile_pin is wrong")),
        Err(Locked::Throttled { retry_after, .. }) => Err(OAuthError {
            retry_after_secs: Some(retry_after),
            ..OAuthError::invalid_grant("too many wrong PINs for this profile: try again later")
        }),
    }
}

/// Rotates the presented token inside one transaction that first takes its family's lock,
/// so concurrent refreshes of a family and revocations of it happen one after the other.
/// Refusals are values, not errors, so what they write (a family revoked on reuse) commits.
/// `switch_to` is a profile already unlocked for the token's account: the family speaks for
/// it from now on.
fn rotate(
    state: &Core,
    conn: &mut DbConnection,
    client: &Client,
    presented: &str,
    requested_scope: Option<&[String]>,
    switch_to: Option<&str>,
) -> Result<Result<Planned, OAuthError>, StoreError> {
    let now = state.clock.now();
    let token_hash = hashing::sha256_hex(presented.as_bytes());
    let invalid = || Ok(Err(OAuthError::invalid_grant("the refresh token is not valid")));
    if !refresh_tokens::lock_family_of(conn, &token_hash, now)? {
        return invalid();
    }
    let Some(token) = refresh_tokens::find(conn, &token_hash)? else {
        return invalid();
    };
    if token.client_id != client.client_id || token.revoked_at.is_some() || token.expires_at <= now {
        return invalid();
    }
    let successor = state.master_key.successor_token(presented);
    if let Some(rotated_at) = token.rotated_at
        && !within_grace(now - rotated_at, state.config.refresh_reuse_grace_secs)
        && !is_unused(conn, &successor, now)?
    {
        let issued = refresh_tokens::revoke_family(conn, &token.family_id, now)?;
        revoke_access_tokens(&state.revoked, conn, issued, now)?;
        tracing::warn!(client_id = %client.client_id, "rotated refresh token reused: its family is revoked");
        return Ok(Err(OAuthError::invalid_grant(
            "the refresh token was already used",
        )));
    }
    let access_scope = match narrowed_scope(&token.scope, requested_scope) {
        Ok(scope) => scope,
        Err(error) => return Ok(Err(error)),
    };
    let Some(user) = users::find_by_id(conn, &token.user_id)?.filter(users::User::is_enabled) else {
        return Ok(Err(OAuthError::invalid_grant("the account is no longer active")));
    };
    let Ok(profile) = profiles::carried(conn, &user.id, switch_to.or(token.profile_id.as_deref()))? else {
        return Ok(Err(OAuthError::invalid_grant(
            "the profile these tokens speak for was deleted: choose another with the profile parameter",
        )));
    };
    let authorization = Authorization {
        user,
        sid: token.sid.clone(),
        scope: token.scope.clone(),
        access_scope,
        auth_time: token.auth_time,
        amr: token.amr.clone(),
        nonce: None,
        code_hash: token.code_hash.clone(),
        family_id: Some(token.family_id.clone()),
        refresh_token: Some(successor),
        profile,
    };
    let planned = user_tokens::plan(state, conn, client, &authorization, now)?;
    if token.rotated_at.is_none() {
        refresh_tokens::mark_rotated(conn, &token_hash, now)?;
    }
    // Within the grace the successor exists already: the twin request gets the same one.
    if let Some((_, row)) = &planned.refresh
        && refresh_tokens::find(conn, &row.token_hash)?.is_none()
    {
        refresh_tokens::insert(conn, row)?;
    }
    Ok(Ok(planned))
}

/// Whether a reuse `elapsed` seconds after the rotation is two requests racing. A grace of 0
/// has no second to give: even a reuse within the same second is not within it.
fn within_grace(elapsed: i64, grace: i64) -> bool {
    grace > 0 && elapsed <= grace
}

/// Whether a successor refresh token was issued and is still waiting for its first use: the
/// client that was given it may never have received the answer (a crash, a lost connection).
fn is_unused(conn: &mut DbConnection, successor: &str, now: i64) -> Result<bool, StoreError> {
    let found = refresh_tokens::find(conn, &hashing::sha256_hex(successor.as_bytes()))?;
    Ok(found.is_some_and(|successor| {
        successor.rotated_at.is_none() && successor.revoked_at.is_none() && successor.expires_at > now
    }))
}

/// RFC 6749 §6: a refresh may ask for fewer scopes than were granted, never more.
fn narrowed_scope(granted: &str, requested: Option<&[String]>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_owned());
    };
    let granted: Vec<&str> = granted.split(' ').collect();
    if let Some(extra) = requested.iter().find(|scope| !granted.contains(&scope.as_str())) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {extra} was not granted to this refresh token"),
        ));
    }
    Ok(requested.join(" "))
}
