//! The time zone pages show instants in: the person's saved zone, else the zone their
//! browser reported (kept in a cookie), else UTC. The account page chooses one; until the
//! account has one, `/assets/time-zone.js` reports the browser's, which is then saved.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use crate::domain::AdminError;
use crate::domain::identity::account;
use crate::domain::oauth::parameters::Parameters;
use crate::foundation::i18n::Locale;
use crate::foundation::time::{Dates, TimeZone, local};
use crate::web::account::form_author;
use crate::web::extractors::PageForm;
use crate::web::i18n::Words;
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::state::AppState;

/// The zone the browser reported, for pages shown before the account has one (or without
/// an account: the device limit while signing in).
pub(crate) const COOKIE: &str = "usher_time_zone";
/// Like the language, a zone outlives sessions: a year.
const COOKIE_MAX_AGE_DAYS: i64 = 365;

/// The script that reports the browser's zone: small, served from the binary, cached by
/// browsers for a day.
const SCRIPT: &str = include_str!("../../../templates/assets/time-zone.js");

/// The zone of a page for `request`; `saved` is the signed-in person's saved zone when the
/// handler has them at hand. A saved name the tz database no longer knows falls through.
pub(crate) fn zone(request: &HttpRequest, saved: Option<&str>) -> TimeZone {
    saved
        .and_then(TimeZone::named)
        .or_else(|| {
            request
                .cookie(COOKIE)
                .and_then(|cookie| TimeZone::named(cookie.value()))
        })
        .unwrap_or_else(TimeZone::utc)
}

/// How a page in `locale` for `request` shows instants.
pub(crate) fn dates(locale: Locale, request: &HttpRequest, saved: Option<&str>) -> Dates {
    Dates {
        locale,
        zone: zone(request, saved),
    }
}

/// One entry of the account page's list of zones (an option without a `value` posts its
/// label: most names read as they are spelled, and the list is long).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZoneChoice {
    /// The canonical IANA name, as the form posts it.
    pub name: String,
    /// The name as people read it: `America/New York`, `UTC`.
    pub label: String,
    pub selected: bool,
}

/// Every zone to choose from, `current` selected.
pub(crate) fn choices(current: &TimeZone) -> Vec<ZoneChoice> {
    local::choices()
        .iter()
        .map(|zone| ZoneChoice {
            label: match zone.name() {
                "Etc/UTC" => "UTC".to_owned(),
                name => name.replace('_', " "),
            },
            selected: zone == current,
            name: zone.name().to_owned(),
        })
        .collect()
}

/// `POST /account/time-zone`: the account page's setting.
pub(crate) async fn choose(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let name = form.require("time_zone")?.to_owned();
    let zone = state
        .store
        .run(move |conn| account::choose_time_zone(conn, &signed_in.user.id, &name))
        .await
        .map_err(refusal)?;
    let mut response = pages::see_other("/account?done=time-zone");
    pages::add_cookie(&mut response, &cookie(&state, &zone))?;
    Ok(response)
}

/// `POST /account/time-zone/browser`: the zone `/assets/time-zone.js` read from the browser.
/// Kept in a cookie, and saved on the account of whoever is signed in unless they have one.
/// Answers the zone's canonical name, which the script compares with the one its page used.
pub(crate) async fn browser_reported(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let name = form.require("time_zone")?.to_owned();
    let zone = match form_author(&state, &request, &form).await? {
        Some(signed_in) => {
            state
                .store
                .run(move |conn| account::adopt_browser_time_zone(conn, &signed_in.user.id, &name))
                .await
                .map_err(refusal)?
                .0
        }
        None => account::known_time_zone(&name).map_err(refusal)?,
    };
    let mut response = HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(zone.name().to_owned());
    pages::add_cookie(&mut response, &cookie(&state, &zone))?;
    Ok(response)
}

/// `GET /assets/time-zone.js`.
pub(crate) async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(SCRIPT)
}

fn refusal(error: AdminError) -> PageError {
    match error {
        AdminError::Invalid { .. } => PageError::said(
            StatusCode::UNPROCESSABLE_ENTITY,
            "time-zone-unknown-title",
            Words::Message("time-zone-unknown"),
        ),
        AdminError::Store(error) => error.into(),
        other => PageError::internal(&other),
    }
}

/// The cookie keeping the browser's zone.
fn cookie(state: &AppState, zone: &TimeZone) -> Cookie<'static> {
    Cookie::build(COOKIE, zone.name().to_owned())
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(COOKIE_MAX_AGE_DAYS))
        .finish()
}
