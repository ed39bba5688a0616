//! CSRF protection for every form: the form must carry a token only the server can compute,
//! bound to the browser that was shown the form. The binding is the browser's session token
//! when it has one, and before that a random id in an `HttpOnly` cookie of its own; a page
//! from another site can make the browser send its cookies but can read neither them nor the
//! page holding the token. Binding to the session means a token and cookie planted from a
//! sibling subdomain fit no signed-in browser but the attacker's own. Over https the cookie
//! name carries the `__Host-` prefix, which a sibling cannot set at all.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::foundation::crypto::random;
use crate::web::pages::PageError;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// The cookie holding the browser's own id, over http.
const COOKIE: &str = "usher_csrf";
/// The same cookie over https: only this host, over TLS, may set it.
const HOST_COOKIE: &str = "__Host-usher_csrf";
pub(crate) const FIELD: &str = "csrf";

/// The token a page embeds in its forms, and the cookie to set when the browser had none.
pub(crate) struct CsrfToken {
    pub token: String,
    pub new_cookie: Option<Cookie<'static>>,
}

pub(crate) fn token(state: &AppState, request: &HttpRequest) -> CsrfToken {
    let (browser_id, new_cookie) = match browser_id(state, request) {
        Some(existing) => (existing, None),
        None => {
            let fresh = random::token::<32>();
            // Lax, not Strict: a Strict cookie is withheld when the person arrives from the
            // app's site, and replacing it then would invalidate forms open in other tabs.
            let cookie = Cookie::build(cookie_name(state), fresh.clone())
                .path("/")
                .http_only(true)
                .secure(state.secure_cookies)
                .same_site(SameSite::Lax)
                .finish();
            (fresh, Some(cookie))
        }
    };
    let binding = binding(state, request).unwrap_or_else(|| browser_binding(&browser_id));
    CsrfToken {
        token: state.master_key.csrf_token(&binding),
        new_cookie,
    }
}

/// Checks that a posted form carries the token of the browser posting it.
pub(crate) fn verify(
    state: &AppState,
    request: &HttpRequest,
    submitted: Option<&str>,
) -> Result<(), PageError> {
    let binding = binding(state, request).ok_or_else(PageError::csrf)?;
    let submitted = submitted.ok_or_else(PageError::csrf)?;
    if state.master_key.is_csrf_token(&binding, submitted) {
        Ok(())
    } else {
        Err(PageError::csrf())
    }
}

/// What a request's forms are bound to: its session when it has one, else the browser's id.
/// A sign-in or sign-out changes it, so forms shown before one are refused after it.
fn binding(state: &AppState, request: &HttpRequest) -> Option<String> {
    match session_cookie::token(state, request).filter(|token| !token.is_empty()) {
        Some(session) => Some(format!("session:{session}")),
        None => browser_id(state, request).map(|id| browser_binding(&id)),
    }
}

fn browser_binding(browser_id: &str) -> String {
    format!("browser:{browser_id}")
}

fn browser_id(state: &AppState, request: &HttpRequest) -> Option<String> {
    request
        .cookie(cookie_name(state))
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| random::is_base64url_of_32_bytes(value))
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies { HOST_COOKIE } else { COOKIE }
}
