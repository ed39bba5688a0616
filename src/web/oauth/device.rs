//! The device authorization endpoint (RFC 8628 §3.1): a TV asks for a device code and a user
//! code; the rules are the domain's (`domain::oauth::device`).

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web;

use crate::domain::oauth::device;
use crate::domain::oauth::error::OAuthError;
use crate::web::form::ClientRequest;
use crate::web::state::AppState;

/// `POST /oauth/device_authorization`.
pub(crate) async fn device_authorization(
    state: web::Data<AppState>,
    request: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    let form = request.form()?;
    let response = device::authorize(
        &state.core,
        &request.credentials(&form),
        &form,
        &request.client_ip(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
