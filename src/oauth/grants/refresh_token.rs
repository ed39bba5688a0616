//! The refresh token grant (RFC 6749 §6) with rotation: every use returns a new refresh
//! token and retires the old one. A retired token presented again means two parties hold it,
//! so the whole family is revoked (RFC 9700 §4.14.2) — unless it comes back within a short,
//! bounded grace after its rotation, which is two tabs of one browser refreshing together.

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::crypto::hashing;
use crate::http::errors::{ErrorCode, OAuthError};
use crate::http::form::Form;
use crate::oauth::revocation::revoke_access_tokens;
use crate::oauth::scopes;
use crate::oauth::token::TokenResponse;
use crate::oauth::user_tokens::{self, Authorization};
use crate::state::AppState;
use crate::store::refresh_tokens::{self, RefreshToken};
use crate::store::{DbConnection, users};

pub const GRANT_TYPE: &str = "refresh_token";

pub async fn grant(
    state: &Arc<AppState>,
    request: &HttpRequest,
    form: &Form<'_>,
) -> Result<TokenResponse, OAuthError> {
    let client = state.clients.any(&state.store, request, form).await?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the refresh token grant",
        ));
    }
    let token_hash = hashing::sha256_hex(form.require("refresh_token")?.as_bytes());
    let requested_scope = form.get("scope").map(scopes::parse).transpose()?;

    let worker_state = Arc::clone(state);
    let issued = state
        .store
        .run(move |conn| -> Result<_, OAuthError> {
            let now = worker_state.clock.now();
            let grace = worker_state.config.refresh_reuse_grace_secs;
            let token = refresh_tokens::find(conn, &token_hash)?
                .filter(|token| token.client_id == client.client_id)
                .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
            if token.revoked_at.is_some() || token.expires_at <= now {
                return Err(OAuthError::invalid_grant("the refresh token is no longer valid"));
            }
            let rotated_now = token.rotated_at.is_none() && refresh_tokens::mark_rotated(conn, &token_hash, now)?;
            if !rotated_now {
                // Rotated before, by this request's twin or by a thief. Re-read: a concurrent
                // rotation may have happened after the first read.
                let rotated_at = refresh_tokens::find(conn, &token_hash)?
                    .and_then(|token| token.rotated_at)
                    .unwrap_or(now);
                if now - rotated_at > grace {
                    revoke_family(&worker_state, conn, &token, now)?;
                    tracing::warn!(client_id = %client.client_id, "rotated refresh token reused: its family is revoked");
                    return Err(OAuthError::invalid_grant("the refresh token was already used"));
                }
            }
            let scope = narrowed_scope(&token.scope, requested_scope.as_deref())?;
            let user = users::find_by_id(conn, &token.user_id)?
                .filter(|user| user.disabled_at.is_none())
                .ok_or_else(|| OAuthError::invalid_grant("the account is no longer active"))?;
            let authorization = Authorization {
                user,
                sid: token.sid.clone(),
                scope,
                auth_time: token.auth_time,
                amr: token.amr.clone(),
                nonce: None,
                code_hash: token.code_hash.clone(),
                family_id: Some(token.family_id.clone()),
            };
            let issued = user_tokens::issue(&worker_state, &worker_state.keyring.current(), &client, &authorization, now)?;
            if let Some(refresh) = &issued.refresh_token {
                refresh_tokens::insert(conn, refresh)?;
            }
            Ok(issued)
        })
        .await?;
    Ok(issued.response)
}

fn revoke_family(
    state: &AppState,
    conn: &mut DbConnection,
    token: &RefreshToken,
    now: i64,
) -> Result<(), OAuthError> {
    let issued = refresh_tokens::revoke_family(conn, &token.family_id, now)?;
    Ok(revoke_access_tokens(state, conn, issued, now)?)
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
