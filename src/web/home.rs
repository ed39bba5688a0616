//! `/`: what this server is, in plain words, and where to go from here.

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::web::extractors::Visitor;
use crate::web::pages::{self, PageError};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    signed_in: bool,
    /// Administrators get a link to the dashboard (which still checks everything itself).
    admin: bool,
}

/// `GET /`.
pub(crate) async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    Visitor(visitor): Visitor,
) -> Result<HttpResponse, PageError> {
    let saved = visitor
        .as_ref()
        .and_then(|signed_in| signed_in.user.locale.as_deref());
    let page = HomePage {
        t: crate::web::i18n::page_for(&state, &request, saved),
        signed_in: visitor.is_some(),
        admin: visitor.is_some_and(|signed_in| signed_in.user.is_admin),
    };
    pages::render(StatusCode::OK, &page)
}
