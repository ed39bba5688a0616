//! Token introspection (RFC 7662): the hot path content servers call on every playback
//! request. A cached client authentication, a cached signature check with its answer already
//! rendered, an expiry comparison and an in-memory revocation lookup: no database round trip
//! for a known token and client.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::access_tokens;
use crate::http::errors::OAuthError;
use crate::http::form::Form;
use crate::state::AppState;

const INACTIVE: &[u8] = br#"{"active":false}"#;

pub async fn introspect(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::parse(&request, &body)?;
    state.clients.confidential(&state.store, &request, &form).await?;
    let token = form.require("token")?;

    let state = state.into_inner();
    let verified = access_tokens::verify(&state, token).await;
    let now = state.clock.now();
    let (result, body) = match verified {
        Ok(verified) if access_tokens::is_live(&state, &verified.claims, now) => {
            ("active", verified.introspection.clone())
        }
        Ok(_) => ("inactive", Bytes::from_static(INACTIVE)),
        Err(rejection) => (rejection.label(), Bytes::from_static(INACTIVE)),
    };
    crate::http::metrics::introspection(result);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body))
}
