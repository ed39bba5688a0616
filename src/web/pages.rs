//! The HTML boundary: server-rendered pages, their one error type and the headers every page
//! carries.

use std::borrow::Cow;
use std::sync::LazyLock;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use askama::Template;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::domain::identity::passkeys::PasskeyError;
use crate::domain::oauth::error::OAuthError;
use crate::foundation::crypto::password_lane::LaneError;
use crate::foundation::i18n::Locale;
use crate::foundation::store::StoreError;
use crate::web::errors::RETRY_AFTER_SECS;
use crate::web::i18n::{PageText, Words};

/// No inline scripts, no frames, nothing from elsewhere: pages are plain forms styled by
/// one `<style>` block, allowed by its hash (no `style` attributes, no other stylesheet), and
/// the one script (passkeys) comes from this server and talks only to it.
/// `form-action` is left out on purpose: browsers apply it to the redirect that follows a
/// form, and the consent form's answer redirects to the app.
static PAGE_POLICY: LazyLock<String> = LazyLock::new(|| {
    // `base.html` includes the file into its `<style>` block, less its final newline: askama
    // drops that from every template file. (A test checks the hash against a rendered page.)
    let served = STYLESHEET.strip_suffix('\n').unwrap_or(STYLESHEET);
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(served));
    format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'sha256-{hash}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
    )
});

/// The pages' stylesheet, inline in every page (`base.html`).
const STYLESHEET: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/assets/pages.css"));

/// The passkey script: small, served from the binary, cached by browsers for a day.
const PASSKEYS_JS: &str = include_str!("../../templates/assets/passkeys.js");

/// `GET /assets/passkeys.js`.
pub(crate) async fn passkeys_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(PASSKEYS_JS)
}

/// A JSON answer for the pages' script; never cached.
pub(crate) fn json(value: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(value)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    title: String,
    message: String,
}

/// An error shown to a person as a page, never as JSON.
#[derive(Debug)]
pub(crate) struct PageError {
    pub status: StatusCode,
    pub title: Words,
    pub message: Words,
}

impl PageError {
    /// An error in the page's language: its title a message id.
    pub(crate) fn said(status: StatusCode, title: &'static str, message: Words) -> Self {
        Self {
            status,
            title: Words::Message(title),
            message,
        }
    }

    /// A request that cannot be completed; `message` describes it as it is, untranslated (an
    /// app's malformed request is described for its developer).
    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::said(
            StatusCode::BAD_REQUEST,
            "error-bad-request",
            Words::Text(message.into()),
        )
    }

    /// A request that cannot be completed, saying why with message `id`.
    pub(crate) fn bad_request_said(id: &'static str) -> Self {
        Self::said(StatusCode::BAD_REQUEST, "error-bad-request", Words::Message(id))
    }

    pub(crate) fn not_found() -> Self {
        Self::said(
            StatusCode::NOT_FOUND,
            "error-not-found",
            Words::Message("error-not-found-lead"),
        )
    }

    /// 503 with `Retry-After`: this instance is at capacity for the moment.
    pub(crate) fn busy() -> Self {
        Self::said(
            StatusCode::SERVICE_UNAVAILABLE,
            "error-try-again",
            Words::Message("error-busy"),
        )
    }

    /// 503 with `Retry-After`: the database is away for the moment.
    pub(crate) fn unavailable() -> Self {
        Self::said(
            StatusCode::SERVICE_UNAVAILABLE,
            "error-try-again",
            Words::Message("error-unavailable"),
        )
    }

    /// A form posted without (or with a stale) CSRF token.
    pub(crate) fn csrf() -> Self {
        Self::said(
            StatusCode::FORBIDDEN,
            "error-try-again",
            Words::Message("error-csrf"),
        )
    }

    /// Logs the internal cause and shows a generic page.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "page failed");
        Self::said(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error-internal",
            Words::Message("error-internal-lead"),
        )
    }

    /// The message in English, for logs and the dashboard's own answers.
    pub(crate) fn english_message(&self) -> String {
        self.message.in_language(Locale::default())
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let english = Locale::default();
        write!(
            f,
            "{}: {}",
            self.title.in_language(english),
            self.message.in_language(english)
        )
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// English without a request at hand; `web::i18n::localise_errors` shows every page error
    /// a request meets in its language.
    fn error_response(&self) -> HttpResponse {
        self.page(PageText::fallback())
    }
}

impl PageError {
    /// The error as a page in the language of `t`.
    pub(crate) fn page(&self, t: PageText) -> HttpResponse {
        let page = ErrorPage {
            title: self.title.in_language(t.locale),
            message: self.message.in_language(t.locale),
            t,
        };
        let mut response = page_builder(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS)));
        }
        match page.render() {
            Ok(body) => response.body(body),
            Err(_) => response.body(self.english_message()),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(cause = %error, "page refused while the database is unavailable");
            return Self::unavailable();
        }
        Self::internal(&error)
    }
}

/// A malformed form or query on a page: the OAuth layer's description, shown as a page.
impl From<OAuthError> for PageError {
    fn from(error: OAuthError) -> Self {
        Self::bad_request(error.description)
    }
}

impl From<LaneError> for PageError {
    fn from(error: LaneError) -> Self {
        match error {
            LaneError::Busy => Self::busy(),
            LaneError::Failed => Self::internal(&error),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(error: askama::Error) -> Self {
        Self::internal(&error)
    }
}

impl From<crate::foundation::crypto::jwt::SignError> for PageError {
    fn from(error: crate::foundation::crypto::jwt::SignError) -> Self {
        Self::internal(&error)
    }
}

/// A response builder with the headers every page carries.
pub(crate) fn page_builder(status: StatusCode) -> HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY.as_str()),
        ))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")));
    builder
}

/// Adds a cookie to a page's answer (it fails only on a cookie that cannot be a header).
pub(crate) fn add_cookie(response: &mut HttpResponse, cookie: &Cookie<'_>) -> Result<(), PageError> {
    response
        .add_cookie(cookie)
        .map_err(|error| PageError::internal(&error))
}

/// Renders a page with the given status.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    Ok(page_builder(status).body(page.render()?))
}

/// Lets a page show one image from elsewhere (an app's logo): its policy names that exact
/// address, which registration checked is an https URL a policy can quote.
pub(crate) fn allow_image(response: &mut HttpResponse, address: Option<&str>) {
    if let Some(address) = address {
        widen_policy(response.headers_mut(), "img-src", address);
    }
}

/// Adds `source` to `directive` of the page policy in `headers`, when there is one that has
/// that directive: a page's own allowance on top of [`PAGE_POLICY`].
pub(crate) fn widen_policy(headers: &mut HeaderMap, directive: &str, source: &str) {
    let marker = format!("{directive} ");
    let widened = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|policy| policy.to_str().ok())
        .filter(|policy| policy.contains(&marker))
        .map(|policy| policy.replacen(&marker, &format!("{marker}{source} "), 1))
        .and_then(|policy| HeaderValue::from_str(&policy).ok());
    if let Some(policy) = widened {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// A `303 See Other` to `location`: after a form, the browser follows it with a GET.
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

impl From<PasskeyError> for PageError {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::Refused(_) => Self::bad_request_said("error-passkey-refused"),
            PasskeyError::Off => Self::not_found(),
            PasskeyError::Name => Self::said(
                StatusCode::UNPROCESSABLE_ENTITY,
                "choose-another-name",
                Words::Message("passkey-name-hidden-characters"),
            ),
            PasskeyError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy allows the `<style>` block exactly as a page serves it.
    #[test]
    fn the_policy_allows_the_served_style_block_by_its_hash() -> Result<(), askama::Error> {
        let page = ErrorPage {
            t: PageText::fallback(),
            title: "Title".into(),
            message: "Message".into(),
        }
        .render()?;
        let block = page
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(block, _)| block)
            .unwrap_or_default();
        assert!(block.contains(":root{"), "{page}");
        assert_eq!(page.matches("<style").count(), 1, "one style block");
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(block));
        assert!(
            PAGE_POLICY.contains(&format!("style-src 'sha256-{hash}';")),
            "{}",
            *PAGE_POLICY
        );
        assert!(!PAGE_POLICY.contains("unsafe-inline"));
        Ok(())
    }
}
