//! Who may call the admin API: a client holding a live client credentials access token (RFC
//! 6750 `Authorization: Bearer`) with the scope the route needs.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;

use super::error::ApiError;
use crate::entitlements::manage::Actor;
use crate::oauth::{access_tokens, scopes};
use crate::state::AppState;

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `usher:admin`: the catalogue, people's details and the audit log.
    Admin,
    /// `usher:admin` or `usher:entitlements`: what a payment service does to one person's
    /// subscription and grants, and reading their entitlements back.
    Entitlements,
}

/// The client behind an authorized request.
pub struct Caller {
    pub client_id: String,
}

impl Caller {
    /// How the audit log names this caller.
    pub fn actor(&self) -> Actor {
        Actor::client(&self.client_id)
    }
}

/// Checks the request's bearer token against what the route needs.
pub async fn authorize(
    state: &Arc<AppState>,
    request: &HttpRequest,
    access: Access,
) -> Result<Caller, ApiError> {
    let token = bearer_token(request)?;
    let verified = access_tokens::verify(state, token)
        .await
        .map_err(|_| ApiError::invalid_token("the access token is not valid"))?;
    let claims = &verified.claims;
    if !access_tokens::is_live(state, claims, state.clock.now()) {
        return Err(ApiError::invalid_token(
            "the access token has expired or was revoked",
        ));
    }
    let granted = |scope: &str| claims.scope.split(' ').any(|held| held == scope);
    // A person's token never carries these scopes (the code flow refuses them); checked all
    // the same, so the API acts only for clients acting as themselves.
    let allowed = !verified.person
        && match access {
            Access::Admin => granted(scopes::ADMIN),
            Access::Entitlements => granted(scopes::ADMIN) || granted(scopes::ADMIN_ENTITLEMENTS),
        };
    if !allowed {
        return Err(match access {
            Access::Admin => {
                ApiError::insufficient_scope(scopes::ADMIN, "this route needs scope usher:admin")
            }
            Access::Entitlements => ApiError::insufficient_scope(
                scopes::ADMIN_ENTITLEMENTS,
                "this route needs scope usher:entitlements or usher:admin",
            ),
        });
    }
    Ok(Caller {
        client_id: claims.client_id.clone(),
    })
}

/// The token of `Authorization: Bearer TOKEN`. The admin API takes JSON bodies, so RFC 6750's
/// form-body and query methods do not apply.
fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::token_required("a bearer access token is required"))?;
    value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim())
        .ok_or_else(|| ApiError::token_required("the Authorization header must be Bearer <token>"))
}
