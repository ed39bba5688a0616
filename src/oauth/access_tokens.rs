//! Recognising this server's access tokens: signature checks answered from memory after the
//! first sight of a token.

use std::sync::Arc;

use crate::crypto::jwt::{self, AccessTokenClaims, Rejection};
use crate::state::AppState;

/// Largest token worth checking; anything longer is not one of ours.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The claims of `token` if this server signed it as an access token. Says nothing about
/// expiry or revocation, which change with time.
pub async fn verify(state: &Arc<AppState>, token: &str) -> Result<Arc<AccessTokenClaims>, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::Malformed);
    }
    if let Some(claims) = state.verified_tokens.get(token) {
        return Ok(claims);
    }
    let mut outcome = jwt::verify_access_token(&state.keyring.current(), &state.issuer, token);
    if outcome == Err(Rejection::UnknownKey) && state.reload_keys_for_unknown_kid().await {
        outcome = jwt::verify_access_token(&state.keyring.current(), &state.issuer, token);
    }
    let claims = Arc::new(outcome?);
    state
        .verified_tokens
        .insert(token.to_owned(), Arc::clone(&claims));
    Ok(claims)
}

/// Whether a verified token is usable at `now`.
pub fn is_live(state: &AppState, claims: &AccessTokenClaims, now: i64) -> bool {
    claims.exp > now && claims.iat <= now + CLOCK_SKEW_SECS && !state.revoked.is_revoked(&claims.jti)
}

/// Tolerance for tokens issued by an instance whose clock runs slightly ahead.
const CLOCK_SKEW_SECS: i64 = 60;
