//! Token revocation (RFC 7009). A revoked access token is recorded in the database, where the
//! change feed carries it to every other instance, and in this instance's set at once. A
//! refresh token takes its whole family with it, and the access tokens issued alongside
//! (§2.1: revoking a refresh token should end the grant's access tokens too).

use std::sync::Arc;

use crate::domain::core::Core;
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::tokens::access_tokens;
use crate::domain::tokens::revoked::RevokedTokens;
use crate::foundation::crypto::hashing;
use crate::foundation::store::{DbConnection, StoreError, refresh_tokens, revocations};

/// Revokes `token` for the client `client_id` that presents it. §2.2: an invalid or unknown
/// token needs no action and is no error; another client's token is.
pub(crate) async fn revoke(state: &Arc<Core>, client_id: &str, token: &str) -> Result<(), OAuthError> {
    if !looks_like_jwt(token) {
        revoke_refresh_token(state, client_id, token).await?;
        return Ok(());
    }
    // §2.2: an invalid or unknown token needs no action; the answer is the same 200.
    if let Ok(verified) = access_tokens::verify(state, token).await {
        let claims = &verified.claims;
        if claims.client_id != client_id {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the token was not issued to this client",
            ));
        }
        let now = state.clock.now();
        if claims.exp > now {
            let (jti, expires_at, clock) = (claims.jti.clone(), claims.exp, state.clock.clone());
            // Stamped once the connection is in hand: other instances look a few seconds back
            // in the change feed, and waiting for a pooled connection must not eat into that.
            state
                .store
                .run(move |conn| revocations::revoke(conn, &jti, expires_at, clock.now()))
                .await?;
            state.revoked.insert(claims.jti.clone(), claims.exp);
        }
    }
    Ok(())
}

/// Revokes access tokens in the database, which announces them to every instance, and in
/// this instance's set at once.
pub(crate) fn revoke_access_tokens(
    revoked: &RevokedTokens,
    conn: &mut DbConnection,
    mut tokens: Vec<(String, i64)>,
    now: i64,
) -> Result<(), StoreError> {
    // A token issued with a refresh token is found both through it and on its own.
    tokens.sort_unstable();
    tokens.dedup();
    for (jti, expires_at) in &tokens {
        revocations::revoke(conn, jti, *expires_at, now)?;
    }
    revoked.extend(tokens);
    Ok(())
}

/// Access tokens are JWS compact serialisations; refresh tokens are opaque base64url.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|byte| *byte == b'.').count() == 2
}

/// Revokes the family of a refresh token issued to `client_id`; anything else is ignored, as
/// §2.2 asks for unknown tokens.
async fn revoke_refresh_token(state: &Arc<Core>, client_id: &str, token: &str) -> Result<(), OAuthError> {
    let token_hash = hashing::sha256_hex(token.as_bytes());
    let (worker_state, client_id) = (Arc::clone(state), client_id.to_owned());
    state
        .store
        .run(move |conn| -> Result<(), OAuthError> {
            let Some(found) = refresh_tokens::find(conn, &token_hash)? else {
                return Ok(());
            };
            if found.client_id != client_id {
                return Err(OAuthError::new(
                    ErrorCode::UnauthorizedClient,
                    "the token was not issued to this client",
                ));
            }
            let now = worker_state.clock.now();
            let issued = refresh_tokens::revoke_family(conn, &found.family_id, now)?;
            Ok(revoke_access_tokens(&worker_state.revoked, conn, issued, now)?)
        })
        .await
}
