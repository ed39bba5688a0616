//! CSRF protection for every form: a random token in an `HttpOnly` cookie that the form must
//! echo (double submit). A page from another site can make the browser send the cookie but
//! can read neither it nor the page holding the token.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use crate::foundation::crypto::random;
use crate::web::pages::PageError;

pub(crate) const COOKIE: &str = "usher_csrf";
pub(crate) const FIELD: &str = "csrf";

/// The token a page embeds in its forms, and the cookie to set when the browser had none.
pub(crate) struct CsrfToken {
    pub token: String,
    pub new_cookie: Option<Cookie<'static>>,
}

pub(crate) fn token(request: &HttpRequest, secure: bool) -> CsrfToken {
    if let Some(existing) = request
        .cookie(COOKIE)
        .filter(|cookie| random::is_base64url_of_32_bytes(cookie.value()))
    {
        return CsrfToken {
            token: existing.value().to_owned(),
            new_cookie: None,
        };
    }
    let token = random::token::<32>();
    // Lax, not Strict: a Strict cookie is withheld when the person arrives from the app's
    // site, and replacing it then would invalidate forms open in other tabs.
    let cookie = Cookie::build(COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    CsrfToken {
        token,
        new_cookie: Some(cookie),
    }
}

/// Checks that a posted form echoes the browser's CSRF cookie.
pub(crate) fn verify(request: &HttpRequest, submitted: Option<&str>) -> Result<(), PageError> {
    let cookie = request.cookie(COOKIE).ok_or_else(PageError::csrf)?;
    let submitted = submitted.ok_or_else(PageError::csrf)?;
    if random::is_base64url_of_32_bytes(submitted)
        && bool::from(cookie.value().as_bytes().ct_eq(submitted.as_bytes()))
    {
        Ok(())
    } else {
        Err(PageError::csrf())
    }
}
