//! Liveness, readiness and metrics.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::foundation::crypto::hashing;
use crate::web::form::{self, Bearer};
use crate::web::state::AppState;

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.store.ping().await {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}

/// `GET /metrics`; with `metrics_token` set, only for `Authorization: Bearer <metrics_token>`
/// (RFC 6750 challenges otherwise).
pub(crate) async fn metrics(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, OAuthError> {
    if let Some(expected) = &state.config.metrics_token {
        match form::bearer(&request) {
            Bearer::Token(token) if hashing::secrets_equal(token, expected) => {}
            Bearer::Token(_) => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the token is not the metrics token",
                ));
            }
            Bearer::Missing | Bearer::OtherScheme => {
                return Err(OAuthError::new(
                    ErrorCode::BearerRequired,
                    "the metrics token is required as a bearer token",
                ));
            }
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::web::metrics::render()))
}
