//! Which language a page speaks, and the selector that changes it. The order (docs/
//! branding-and-languages.md): the authorization request's `ui_locales` (on `/oauth/authorize`,
//! and carried through the login pages in their `request` parameter), then the person's own
//! choice (saved on their account, and in a cookie for the browser), then `Accept-Language`,
//! then `default_locale`.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use url::form_urlencoded;

use crate::domain::identity::account;
use crate::foundation::i18n::Locale;
use crate::web::brand::PageBrand;
use crate::web::form::{Form, query_param};
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// Words a page shows: a message of the catalogues (with a count where it has one), or text
/// that has no message (an app's malformed request, described for its developer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Words {
    Message(&'static str),
    /// A message with `$count`, chosen by the language's plural rules.
    Count(&'static str, i64),
    Text(std::borrow::Cow<'static, str>),
}

impl Words {
    /// The words in `locale`.
    pub(crate) fn in_language(&self, locale: Locale) -> String {
        match self {
            Words::Message(id) => locale.get(id),
            Words::Count(id, count) => locale.count(id, *count),
            Words::Text(text) => text.to_string(),
        }
    }
}

/// The browser's chosen language, for pages before (or without) a sign-in.
pub(crate) const COOKIE: &str = "usher_locale";
/// A choice outlives sessions: a year.
const COOKIE_MAX_AGE_DAYS: i64 = 365;

/// What a page's template speaks with: the language, and the address of the page itself for
/// the selector's links.
pub(crate) struct PageText {
    pub locale: Locale,
    /// The platform's name, logo, colours and support link.
    pub brand: Arc<PageBrand>,
    /// The page's path and query, to come back to after choosing a language.
    here: String,
}

/// One entry of the language selector.
pub(crate) struct LanguageLink {
    /// The language's tag, for `lang` and `hreflang`.
    pub tag: String,
    /// The language's name for itself.
    pub name: String,
    pub href: String,
    pub current: bool,
}

impl PageText {
    pub(crate) fn new(locale: Locale, brand: Arc<PageBrand>, request: &HttpRequest) -> Self {
        let here = match request.uri().query() {
            Some(query) if request.method() == actix_web::http::Method::GET => {
                format!("{}?{query}", request.path())
            }
            _ => request.path().to_owned(),
        };
        Self { locale, brand, here }
    }

    /// The fallback language, for a page rendered without its request.
    pub(crate) fn fallback() -> Self {
        Self {
            locale: Locale::default(),
            brand: PageBrand::fallback(),
            here: "/".to_owned(),
        }
    }

    pub(crate) fn tag(&self) -> String {
        self.locale.tag()
    }

    pub(crate) fn dir(&self) -> &'static str {
        self.locale.dir()
    }

    pub(crate) fn get(&self, id: &str) -> String {
        self.locale.get(id)
    }

    pub(crate) fn with(&self, id: &str, name: &'static str, value: &str) -> String {
        self.locale.with(id, name, value)
    }

    pub(crate) fn with_two(
        &self,
        id: &str,
        first_name: &'static str,
        first: &str,
        second_name: &'static str,
        second: &str,
    ) -> String {
        self.locale
            .with_two(id, (first_name, first), (second_name, second))
    }

    /// Message `id` as HTML, with its one argument escaped and in `<strong>`: the catalogues
    /// hold no markup (a test checks), so only the argument needs escaping.
    pub(crate) fn strong(&self, id: &str, name: &'static str, value: &str) -> String {
        let escaped = askama::filters::escape(value, askama::filters::Html)
            .map(|escaped| escaped.to_string())
            .unwrap_or_default();
        self.locale.with(id, name, &format!("<strong>{escaped}</strong>"))
    }

    pub(crate) fn count(&self, id: &str, count: i64) -> String {
        self.locale.count(id, count)
    }

    /// Every language, each linking to the selector with this page to come back to. The page
    /// comes back asking for the chosen language in its `ui_locales` too, where it carries
    /// them: they come first, and would otherwise undo the choice.
    pub(crate) fn languages(&self) -> Vec<LanguageLink> {
        Locale::supported()
            .into_iter()
            .map(|locale| {
                let tag = locale.tag();
                let back = with_ui_locales(&self.here, &tag);
                let href = format!(
                    "{}?{}",
                    paths::LANGUAGE,
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("set", &tag)
                        .append_pair("return_to", &back)
                        .finish()
                );
                LanguageLink {
                    name: locale.get("language-name"),
                    current: locale == self.locale,
                    tag,
                    href,
                }
            })
            .collect()
    }
}

/// The language of a page for `request`; `saved` is the signed-in person's saved choice when
/// the handler has them at hand.
pub(crate) fn locale(state: &AppState, request: &HttpRequest, saved: Option<&str>) -> Locale {
    requested(request)
        .or_else(|| saved.and_then(Locale::parse))
        .or_else(|| {
            request
                .cookie(COOKIE)
                .and_then(|cookie| Locale::parse(cookie.value()))
        })
        .or_else(|| {
            request
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok())
                .and_then(Locale::from_accept_language)
        })
        .unwrap_or_else(|| default_locale(state))
}

/// The language of the login or sign-up page a form was posted from: the `ui_locales` of the
/// authorization request it carries (its `request` field, `carried`), which the page's own
/// address had, else as [`locale`] finds it.
pub(crate) fn posted_from(state: &AppState, request: &HttpRequest, carried: &str) -> Locale {
    let requested = Form::from_urlencoded(carried)
        .ok()
        .and_then(|form| form.get("ui_locales").and_then(Locale::first_of));
    requested.unwrap_or_else(|| locale(state, request, None))
}

/// A page's text answering a form posted from a login or sign-up page: in the language
/// [`posted_from`] finds, so the answer speaks as the page did.
pub(crate) fn posted_page(state: &AppState, request: &HttpRequest, carried: &str) -> PageText {
    PageText::new(
        posted_from(state, request, carried),
        Arc::clone(&state.brand),
        request,
    )
}

/// The configured `default_locale` (checked at start).
pub(crate) fn default_locale(state: &AppState) -> Locale {
    Locale::parse(&state.config.default_locale).unwrap_or_default()
}

/// A page's text for `request`, for pages without a signed-in person at hand.
pub(crate) fn page(state: &AppState, request: &HttpRequest) -> PageText {
    PageText::new(locale(state, request, None), Arc::clone(&state.brand), request)
}

/// A page's text for a signed-in person, whose saved choice comes before the browser's.
pub(crate) fn page_for(state: &AppState, request: &HttpRequest, saved: Option<&str>) -> PageText {
    PageText::new(locale(state, request, saved), Arc::clone(&state.brand), request)
}

/// `ui_locales` on the request itself (`/oauth/authorize`) or inside the authorization request
/// a login page carries in its `request` parameter.
fn requested(request: &HttpRequest) -> Option<Locale> {
    if let Some(tags) = query_param(request, "ui_locales") {
        return Locale::first_of(&tags);
    }
    let carried = query_param(request, "request")?;
    let form = Form::from_urlencoded(&carried).ok()?;
    Locale::first_of(form.get("ui_locales")?)
}

/// `here` with every `ui_locales` in it (its own, or inside its carried `request`) set to `tag`.
fn with_ui_locales(here: &str, tag: &str) -> String {
    let Some((path, query)) = here.split_once('?') else {
        return here.to_owned();
    };
    let rewrite = |query: &str| -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "ui_locales" => out.append_pair("ui_locales", tag),
                "request" => out.append_pair("request", &rewrite_inner(&value, tag)),
                _ => out.append_pair(&name, &value),
            };
        }
        out.finish()
    };
    format!("{path}?{}", rewrite(query))
}

fn rewrite_inner(carried: &str, tag: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(carried.as_bytes()) {
        if name == "ui_locales" {
            out.append_pair("ui_locales", tag);
        } else {
            out.append_pair(&name, &value);
        }
    }
    out.finish()
}

/// A path on this site to come back to: `/…`, never `//host` or `/\host`, which browsers read
/// as another site.
fn local_path(return_to: Option<&str>) -> &str {
    match return_to {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/",
    }
}

/// `GET /language?set=TAG&return_to=PATH`: the selector's links. Keeps the choice in a cookie
/// and, when someone is signed in, on their account, then returns to the page. A link followed
/// from another site (`Sec-Fetch-Site: cross-site`) changes nothing: only this site's own
/// pages choose.
pub(crate) async fn choose(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let back = local_path(query_param(&request, "return_to").as_deref()).to_owned();
    let cross_site = request
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|value| value.as_bytes() == b"cross-site");
    let chosen = query_param(&request, "set").and_then(|tag| Locale::parse(&tag));
    let mut response = pages::see_other(&back);
    let Some(chosen) = chosen.filter(|_| !cross_site) else {
        return Ok(response);
    };
    if let Some(signed_in) = session_cookie::current(&state, &request).await? {
        let user_id = signed_in.user.id.clone();
        let tag = chosen.tag();
        state
            .store
            .run(move |conn| account::choose_locale(conn, &user_id, &tag))
            .await?;
    }
    pages::add_cookie(&mut response, &cookie(&state, chosen))?;
    Ok(response)
}

/// Shows a handler's page error in the language of its request: errors are rendered without
/// one (`ResponseError`), so this renders them again with it.
pub(crate) async fn localise_errors(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let response = next.call(request).await?;
    let localised = response
        .response()
        .error()
        .and_then(|error| error.as_error::<PageError>())
        .and_then(|error| {
            let state = response.request().app_data::<web::Data<AppState>>()?;
            Some(error.page(page(state, response.request())))
        });
    Ok(match localised {
        Some(localised) => {
            let (request, _) = response.into_parts();
            ServiceResponse::new(request, localised).map_into_right_body()
        }
        None => response.map_into_left_body(),
    })
}

/// The cookie keeping the browser's chosen language.
pub(crate) fn cookie(state: &AppState, locale: Locale) -> Cookie<'static> {
    Cookie::build(COOKIE, locale.tag())
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(COOKIE_MAX_AGE_DAYS))
        .finish()
}

/// `seconds` as minutes or hours, rounded up to the minute, in `locale`'s words and plural
/// rules.
pub(crate) fn duration(seconds: i64, locale: Locale) -> String {
    let minutes = (seconds + 59) / 60;
    match (minutes / 60, minutes % 60) {
        (0, minutes) => locale.count("duration-minutes", minutes),
        (hours, 0) => locale.count("duration-hours", hours),
        (hours, minutes) => locale.with_two(
            "duration-hours-minutes",
            ("hours", &hours.to_string()),
            ("minutes", &minutes.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_duration_is_rounded_up_to_the_minute_and_counted_by_the_plural_rules() {
        let english = Locale::default();
        assert_eq!(duration(60, english), "1 minute");
        assert_eq!(duration(61, english), "2 minutes");
        assert_eq!(duration(3_600, english), "1 hour");
        assert_eq!(duration(7_200, english), "2 hours");
        assert_eq!(duration(5_401, english), "1 h 31 min");
        let urdu = Locale::parse("ur").expect("ur");
        assert_eq!(duration(3_600, urdu), "ایک گھنٹے");
        assert_eq!(duration(600, urdu), "\u{2068}10\u{2069} منٹ");
    }

    use super::*;

    #[test]
    fn the_selector_returns_only_to_this_site() {
        assert_eq!(local_path(Some("/login?request=a")), "/login?request=a");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn choosing_a_language_rewrites_the_ui_locales_a_page_carries() {
        assert_eq!(
            with_ui_locales("/oauth/authorize?client_id=tv&ui_locales=en", "ur"),
            "/oauth/authorize?client_id=tv&ui_locales=ur"
        );
        assert_eq!(
            with_ui_locales("/login?request=client_id%3Dtv%26ui_locales%3Den", "ur"),
            "/login?request=client_id%3Dtv%26ui_locales%3Dur"
        );
        assert_eq!(with_ui_locales("/account", "ur"), "/account");
    }
}
