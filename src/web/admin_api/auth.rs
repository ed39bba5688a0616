//! Who may call the admin API: a client holding a live client credentials access token (RFC
//! 6750 `Authorization: Bearer`) with the scope the route needs.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::domain::entitlements::manage::Actor;
use crate::domain::oauth::scopes;
use crate::domain::tokens::access_tokens;
use crate::web::admin_api::error::ApiError;
use crate::web::extractors::Extracted;
use crate::web::form::{self, Bearer};
use crate::web::state::AppState;

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// `usher:admin`: the catalogue, people's details and the audit log.
    Admin,
    /// `usher:admin` or `usher:entitlements`: what a payment service does to one person's
    /// subscription and grants, and reading their entitlements back.
    Entitlements,
}

/// The client behind an authorized request.
pub(crate) struct Caller {
    pub client_id: String,
}

impl Caller {
    /// How the audit log names this caller.
    pub(crate) fn actor(&self) -> Actor {
        Actor::client(&self.client_id)
    }
}

/// A caller holding `usher:admin`: what a handler takes to be called only by one.
pub(crate) struct AdminCaller(pub Caller);

/// A caller holding `usher:entitlements` or `usher:admin`.
pub(crate) struct EntitlementsCaller(pub Caller);

fn authorized(request: &HttpRequest, access: Access) -> Extracted<Caller, ApiError> {
    let request = request.clone();
    Box::pin(async move {
        let state = AppState::of(&request)
            .ok_or_else(|| ApiError::server_error(&"the application state is missing"))?;
        authorize(&state, &request, access).await
    })
}

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Extracted<Self, ApiError>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = authorized(request, Access::Admin);
        Box::pin(async move { caller.await.map(Self) })
    }
}

impl FromRequest for EntitlementsCaller {
    type Error = ApiError;
    type Future = Extracted<Self, ApiError>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = authorized(request, Access::Entitlements);
        Box::pin(async move { caller.await.map(Self) })
    }
}

/// Checks the request's bearer token against what the route needs.
async fn authorize(state: &AppState, request: &HttpRequest, access: Access) -> Result<Caller, ApiError> {
    let token = match form::bearer(request) {
        Bearer::Token(token) => token,
        Bearer::Missing => return Err(ApiError::token_required("a bearer access token is required")),
        Bearer::OtherScheme => {
            return Err(ApiError::token_required(
                "the Authorization header must be Bearer <token>",
            ));
        }
    };
    let verified = access_tokens::usable(&state.core, token)
        .await
        .map_err(|unusable| ApiError::invalid_token(unusable.description()))?;
    let claims = &verified.claims;
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
