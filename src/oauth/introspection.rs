//! Token introspection (RFC 7662): the hot path content servers call on every playback
//! request. A cached client authentication, a cached signature check, an expiry comparison
//! and an in-memory revocation lookup; no database round trip for a known token and client.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::access_tokens;
use crate::crypto::jwt::AccessTokenClaims;
use crate::http::errors::OAuthError;
use crate::http::form::{self, Form};
use crate::state::AppState;

#[derive(Serialize)]
struct ActiveToken<'a> {
    active: bool,
    scope: &'a str,
    client_id: &'a str,
    token_type: &'static str,
    exp: i64,
    iat: i64,
    sub: &'a str,
    aud: &'a str,
    iss: &'a str,
    jti: &'a str,
}

impl<'a> From<&'a AccessTokenClaims> for ActiveToken<'a> {
    fn from(claims: &'a AccessTokenClaims) -> Self {
        Self {
            active: true,
            scope: &claims.scope,
            client_id: &claims.client_id,
            token_type: "Bearer",
            exp: claims.exp,
            iat: claims.iat,
            sub: &claims.sub,
            aud: &claims.aud,
            iss: &claims.iss,
            jti: &claims.jti,
        }
    }
}

const INACTIVE: &str = r#"{"active":false}"#;

pub async fn introspect(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::parse(&request, body)?;
    let presented = form::client_credentials(&request, &form)?;
    state.clients.confidential(&state.store, presented).await?;
    let token = form.require("token")?;

    let state = state.into_inner();
    let verified = access_tokens::verify(&state, token).await;
    let now = state.clock.now();
    let (result, body) = match verified {
        Ok(claims) if access_tokens::is_live(&state, &claims, now) => {
            let body = serde_json::to_vec(&ActiveToken::from(claims.as_ref()))
                .map_err(|error| OAuthError::server_error(&error))?;
            ("active", body)
        }
        Ok(_) => ("inactive", INACTIVE.as_bytes().to_vec()),
        Err(rejection) => (rejection.label(), INACTIVE.as_bytes().to_vec()),
    };
    metrics::counter!("usher_introspections_total", "result" => result).increment(1);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body))
}
