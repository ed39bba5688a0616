//! The token endpoint (RFC 6749 §3.2): reads the request once and dispatches on `grant_type`.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::web::errors::{ErrorCode, OAuthError};
use crate::web::form::Form;
use crate::web::oauth::grants;
use crate::web::state::AppState;

/// RFC 6749 §5.1 successful response.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

pub async fn token(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::parse(&request, &body)?;
    let grant_type = form.require("grant_type")?;
    let response = match grant_type {
        grants::client_credentials::GRANT_TYPE => {
            grants::client_credentials::grant(&state, &request, &form).await?
        }
        grants::authorization_code::GRANT_TYPE => {
            grants::authorization_code::grant(&state.into_inner(), &request, &form).await?
        }
        grants::refresh_token::GRANT_TYPE => {
            grants::refresh_token::grant(&state.into_inner(), &request, &form).await?
        }
        crate::web::oauth::device::GRANT_TYPE => {
            crate::web::oauth::device::grant(&state.into_inner(), &request, &form).await?
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
