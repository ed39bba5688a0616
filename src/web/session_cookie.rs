//! The browser session's cookie: `HttpOnly`, `SameSite=Lax`, path `/`; over https `Secure`
//! and named with the `__Host-` prefix, so no sibling subdomain can set it. The session itself
//! is the domain's (`domain::identity::session`).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

use crate::domain::identity::session::{self, SignedIn};
use crate::foundation::store::StoreError;
use crate::web::state::AppState;

/// The cookie's name over http.
pub const COOKIE: &str = "usher_session";
/// Its name over https: the browser accepts it only from this host, over TLS, for path `/`.
const HOST_COOKIE: &str = "__Host-usher_session";

/// The name of the session cookie where `state` serves.
pub(crate) fn name(state: &AppState) -> &'static str {
    if state.secure_cookies { HOST_COOKIE } else { COOKIE }
}

/// The person behind a request's session cookie.
pub(crate) async fn current(state: &AppState, request: &HttpRequest) -> Result<Option<SignedIn>, StoreError> {
    match token(state, request) {
        Some(token) => session::resolve(&state.core, &token).await,
        None => Ok(None),
    }
}

/// The session token a request's cookie carries, to hand to `session::start` on the
/// blocking pool.
pub(crate) fn token(state: &AppState, request: &HttpRequest) -> Option<String> {
    request
        .cookie(name(state))
        .map(|cookie| cookie.value().to_owned())
}

/// The cookie that keeps a newly started session's token.
pub(crate) fn issue(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(name(state), token)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(state.config.session_max_secs))
        .finish()
}

/// The cookie that makes the browser forget its session.
pub(crate) fn removal(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build(name(state), "")
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}
