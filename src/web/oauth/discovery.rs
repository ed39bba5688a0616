//! The discovery documents (OpenID Connect Discovery, RFC 8414) and the JWKS, served with
//! caching headers; the documents themselves are the domain's (`domain::oauth::metadata`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::web::state::AppState;

fn metadata(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body.to_owned())
}

pub(crate) async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    metadata(&state.metadata.openid_configuration)
}

pub(crate) async fn authorization_server(state: web::Data<AppState>) -> HttpResponse {
    metadata(&state.metadata.authorization_server)
}

pub(crate) async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.keyring.current().jwks().to_string())
}
