//! The UserInfo endpoint (OIDC Core §5.3): claims about the person behind a bearer access
//! token (RFC 6750), by `GET` with the `Authorization` header or by `POST` with the token in
//! the header or the form body.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::domain::entitlements::cache;
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::scopes;
use crate::domain::oauth::user_tokens::PersonClaims;
use crate::domain::tokens::access_tokens;
use crate::foundation::store::users;
use crate::web::form::{self, Bearer, Form};
use crate::web::state::AppState;

#[derive(Serialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    person: PersonClaims,
}

pub(crate) async fn userinfo(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OAuthError> {
    let posted;
    let from_body =
        if request.method() == actix_web::http::Method::POST && !body.as_ref().is_ok_and(Bytes::is_empty) {
            posted = Form::parse(&request, &body)?;
            posted.get("access_token")
        } else {
            None
        };
    let token = bearer_token(&request, from_body)?;
    let verified = access_tokens::usable(&state.core, token)
        .await
        .map_err(|unusable| invalid_token(unusable.description()))?;
    let claims = &verified.claims;
    let granted: Vec<&str> = claims.scope.split(' ').collect();
    if !granted.contains(&scopes::OPENID) {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "userinfo needs a token with the openid scope",
        ));
    }
    let user_id = claims.sub.clone();
    let user = state
        .store
        .run(move |conn| users::find_by_id(conn, &user_id))
        .await?
        .filter(users::User::is_enabled)
        .ok_or_else(|| invalid_token("the account behind this token is no longer active"))?;
    let speaks_for_profile = claims.profile.is_some() && granted.contains(&scopes::PROFILES);
    let entitlements = if granted.contains(&scopes::ENTITLEMENTS) || speaks_for_profile {
        Some(cache::current(&state.core, &user.id).await?)
    } else {
        None
    };
    // The profile as it is now: a deleted one ends what its tokens may do.
    let profile = match (&claims.profile, &entitlements) {
        (Some(profile_id), Some(cached)) if speaks_for_profile => Some(
            cached
                .profile(profile_id)
                .ok_or_else(|| invalid_token("the profile behind this token was deleted"))?,
        ),
        _ => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UserInfo {
            person: PersonClaims::for_scopes(
                &user,
                &granted,
                entitlements
                    .as_ref()
                    .filter(|_| granted.contains(&scopes::ENTITLEMENTS))
                    .map(|cached| &cached.entitlements),
            )
            .with_profile(&granted, profile),
            sub: user.id,
        }))
}

fn invalid_token(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description)
}

/// RFC 6750 §2: exactly one of the `Authorization: Bearer` header and the form parameter.
fn bearer_token<'a>(request: &'a HttpRequest, from_body: Option<&'a str>) -> Result<&'a str, OAuthError> {
    let required = |description| OAuthError::new(ErrorCode::BearerRequired, description);
    match (form::bearer(request), from_body) {
        (Bearer::OtherScheme, _) => Err(required("the Authorization header must be Bearer <token>")),
        (Bearer::Token(_), Some(_)) => Err(OAuthError::invalid_request(
            "the token was sent in more than one way",
        )),
        (Bearer::Token(token), None) | (Bearer::Missing, Some(token)) => Ok(token),
        (Bearer::Missing, None) => Err(required("a bearer access token is required")),
    }
}
