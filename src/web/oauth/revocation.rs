//! The revocation endpoint (RFC 7009): the client authenticates, names a token, and hears 200
//! whatever became of it.

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web;

use crate::domain::oauth::error::OAuthError;
use crate::domain::oauth::parameters::Parameters;
use crate::domain::tokens::revocation;
use crate::web::form::ClientRequest;
use crate::web::state::AppState;

pub(crate) async fn revoke(
    state: web::Data<AppState>,
    request: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    let form = request.form()?;
    let client = state
        .clients
        .any(&state.store, &request.credentials(&form))
        .await?;
    let token = form.require("token")?;
    revocation::revoke(&state.core, &client.client_id, token).await?;
    Ok(revoked())
}

fn revoked() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
