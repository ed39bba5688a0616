//! The client credentials grant (RFC 6749 §4.4): a service acting on its own behalf gets an
//! RFC 9068 JWT access token. No database work when the client's authentication is cached.

use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::foundation::crypto::jwt::{self, AccessTokenClaims};
use crate::foundation::crypto::random;

use crate::domain::core::Core;
use crate::domain::oauth::client_auth::ClientCredentials;
use crate::domain::oauth::parameters::Parameters;
use crate::domain::oauth::scopes;
use crate::domain::oauth::token_response::TokenResponse;
use crate::domain::tokens::access_tokens;
use crate::foundation::store::clients::Client;

pub(crate) const GRANT_TYPE: &str = "client_credentials";

pub(crate) async fn grant(
    state: &Core,
    credentials: &ClientCredentials<'_>,
    form: &impl Parameters,
) -> Result<TokenResponse, OAuthError> {
    let client = state.clients.confidential(&state.store, credentials).await?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the client credentials grant",
        ));
    }
    let scope = granted_scope(&client, form.get("scope"))?;
    let now = state.clock.now();
    let claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: client.client_id.clone(),
        aud: state.audience.clone(),
        exp: now + state.config.access_token_ttl_secs,
        iat: now,
        jti: random::token::<16>(),
        client_id: client.client_id.clone(),
        scope,
        profile: None,
        maturity: None,
    };
    let keys = state.keyring.current();
    let access_token = jwt::sign_access_token(&keys, state.access_token_alg, &claims)?;
    let scope = claims.scope.clone();
    access_tokens::remember_issued(state, &keys, &access_token, claims);
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.config.access_token_ttl_secs,
        scope,
        id_token: None,
        refresh_token: None,
    })
}

/// The scope to grant: what was asked if the client may have all of it, else `invalid_scope`;
/// without a request, every service scope the client is registered for.
fn granted_scope(client: &Client, requested: Option<&str>) -> Result<String, OAuthError> {
    let is_service_scope = |scope: &str| !scopes::USER_SCOPES.contains(&scope);
    let Some(requested) = requested else {
        let defaults: Vec<&str> = client
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|scope| is_service_scope(scope))
            .collect();
        return Ok(defaults.join(" "));
    };
    let requested = scopes::parse(requested)?;
    if let Some(refused) = requested
        .iter()
        .find(|scope| !is_service_scope(scope) || !client.allows_scope(scope))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {refused} is not available to this client with this grant"),
        ));
    }
    Ok(requested.join(" "))
}
