//! The device authorization endpoint (RFC 8628 §3.1): a TV asks for a device code and a user
//! code; the rules are the domain's (`domain::oauth::device`).

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use crate::domain::oauth::device;
use crate::domain::oauth::error::OAuthError;
use crate::web::form::{Form, client_credentials};
use crate::web::state::AppState;

/// `POST /oauth/device_authorization`.
pub(crate) async fn device_authorization(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::parse(&request, &body)?;
    let response = device::authorize(&state.core, &client_credentials(&request, &form), &form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
