//! Token revocation (RFC 7009). A revoked access token is recorded in the database, where the
//! change feed carries it to every other instance, and in this instance's set at once.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::access_tokens;
use crate::http::errors::{ErrorCode, OAuthError};
use crate::http::form::Form;
use crate::state::AppState;
use crate::store::revocations;

pub async fn revoke(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::parse(&request, &body)?;
    let client = state.clients.confidential(&state.store, &request, &form).await?;
    let token = form.require("token")?.to_owned();

    let state = state.into_inner();
    // §2.2: an invalid or unknown token needs no action; the answer is the same 200.
    if let Ok(verified) = access_tokens::verify(&state, &token).await {
        let claims = &verified.claims;
        if claims.client_id != client.client_id {
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
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
