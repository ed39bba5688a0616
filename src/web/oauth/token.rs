//! The token endpoint (RFC 6749 §3.2): reads the request once and dispatches on `grant_type`.

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web;

use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::grants;
use crate::domain::oauth::parameters::Parameters;
use crate::web::form::ClientRequest;
use crate::web::state::AppState;

pub(crate) async fn token(
    state: web::Data<AppState>,
    request: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    let form = request.form()?;
    let grant_type = form.require("grant_type")?;
    let credentials = request.credentials(&form);
    let response = match grant_type {
        grants::client_credentials::GRANT_TYPE => {
            grants::client_credentials::grant(&state, &credentials, &form).await?
        }
        grants::authorization_code::GRANT_TYPE => {
            grants::authorization_code::grant(&state.core, &credentials, &form).await?
        }
        grants::refresh_token::GRANT_TYPE => {
            grants::refresh_token::grant(&state.core, &credentials, &form).await?
        }
        crate::domain::oauth::device::GRANT_TYPE => {
            crate::domain::oauth::device::grant(&state.core, &credentials, &form).await?
        }
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "this server does not support that grant_type",
            ));
        }
    };
    crate::web::metrics::token_issued(grant_type);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
