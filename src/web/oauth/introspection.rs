//! Token introspection (RFC 7662): the hot path content servers call on every playback
//! request. A cached client authentication, a cached signature check with its answer already
//! rendered, an expiry comparison and an in-memory revocation lookup: no database round trip
//! for a known token and client.

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut};

use serde::Serialize;

use crate::domain::entitlements::cache;
use crate::domain::oauth::clients;
use crate::domain::oauth::error::OAuthError;
use crate::domain::oauth::parameters::Parameters;
use crate::domain::tokens::access_tokens;
use crate::domain::tokens::revocation::looks_like_jwt;
use crate::foundation::crypto::hashing;
use crate::foundation::store::refresh_tokens;
use crate::web::form::ClientRequest;
use crate::web::state::AppState;

const INACTIVE: &[u8] = br#"{"active":false}"#;

pub(crate) async fn introspect(
    state: web::Data<AppState>,
    request: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    let form = request.form()?;
    let client = state
        .clients
        .confidential(&state.store, &request.credentials(&form))
        .await?;
    let token = form.require("token")?;

    if !looks_like_jwt(token) {
        return Ok(answer(
            introspect_refresh_token(&state, &client.client_id, token).await?,
        ));
    }
    let verified = access_tokens::verify(&state.core, token).await;
    let now = state.clock.now();
    let (result, body) = match verified {
        Ok(verified) if !clients::may_introspect(&client, &verified.claims.client_id) => {
            ("foreign", Bytes::from_static(INACTIVE))
        }
        Ok(verified) if access_tokens::is_live(&state, &verified.claims, now) => {
            if verified.person {
                let entitlements = cache::current(&state.core, &verified.claims.sub).await?;
                // A token speaking for a profile answers with the profile's maturity as it is
                // now, and stops being active once the profile is deleted.
                match verified
                    .claims
                    .profile
                    .as_deref()
                    .map(|id| entitlements.profile_members(id))
                {
                    None => (
                        "active",
                        with_entitlements(&verified.introspection, &entitlements.introspection_members, None),
                    ),
                    Some(Some(profile)) => (
                        "active",
                        with_entitlements(
                            &verified.introspection,
                            &entitlements.introspection_members,
                            Some(profile),
                        ),
                    ),
                    Some(None) => ("inactive", Bytes::from_static(INACTIVE)),
                }
            } else {
                ("active", verified.introspection.clone())
            }
        }
        Ok(_) => ("inactive", Bytes::from_static(INACTIVE)),
        Err(rejection) => (rejection.label(), Bytes::from_static(INACTIVE)),
    };
    crate::web::metrics::introspection(result);
    Ok(answer(body))
}

/// A person's token answer followed by their entitlements as they are now (docs/entitlements.md),
/// and by the profile the token speaks for, as it is now.
fn with_entitlements(token_members: &Bytes, entitlements: &Bytes, profile: Option<&Bytes>) -> Bytes {
    let profile_len = profile.map_or(0, |profile| profile.len() + 1);
    let mut body = BytesMut::with_capacity(token_members.len() + entitlements.len() + profile_len + 2);
    body.extend_from_slice(token_members);
    body.extend_from_slice(b",");
    body.extend_from_slice(entitlements);
    if let Some(profile) = profile {
        body.extend_from_slice(b",");
        body.extend_from_slice(profile);
    }
    body.extend_from_slice(b"}");
    body.freeze()
}

fn answer(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body)
}

#[derive(Serialize)]
struct ActiveRefreshToken<'a> {
    active: bool,
    token_type: &'static str,
    scope: &'a str,
    client_id: &'a str,
    sub: &'a str,
    iss: &'a str,
    exp: i64,
    iat: i64,
}

/// Refresh tokens are opaque and live in the database: off the hot path, which serves access
/// tokens. A rotated token is inactive even during the reuse grace: it must not be used.
/// Only the client holding a refresh token learns about it; content servers have no use for
/// one.
async fn introspect_refresh_token(
    state: &AppState,
    client_id: &str,
    token: &str,
) -> Result<Bytes, OAuthError> {
    let token_hash = hashing::sha256_hex(token.as_bytes());
    let found = state
        .store
        .run(move |conn| refresh_tokens::find(conn, &token_hash))
        .await?;
    let now = state.clock.now();
    let live = found.filter(|found| {
        found.client_id == client_id
            && found.revoked_at.is_none()
            && found.rotated_at.is_none()
            && found.expires_at > now
    });
    let result = if live.is_some() { "active" } else { "inactive" };
    crate::web::metrics::introspection(result);
    let Some(live) = live else {
        return Ok(Bytes::from_static(INACTIVE));
    };
    let body = serde_json::to_vec(&ActiveRefreshToken {
        active: true,
        token_type: "refresh_token",
        scope: &live.scope,
        client_id: &live.client_id,
        sub: &live.user_id,
        iss: &state.issuer,
        exp: live.expires_at,
        iat: live.created_at,
    })
    .map_err(|error| OAuthError::server_error(&error))?;
    Ok(Bytes::from(body))
}
