//! `/`: what this server is, in plain words, and where to go from here.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::web::extractors::Visitor;
use crate::web::pages::{self, PageError};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    signed_in: bool,
    /// Administrators get a link to the dashboard (which still checks everything itself).
    admin: bool,
}

/// `GET /`.
pub(crate) async fn show(Visitor(visitor): Visitor) -> Result<HttpResponse, PageError> {
    let page = HomePage {
        signed_in: visitor.is_some(),
        admin: visitor.is_some_and(|signed_in| signed_in.user.is_admin),
    };
    pages::render(StatusCode::OK, &page)
}
