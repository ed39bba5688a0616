//! The page that refuses a sign-in beyond the devices the person's plan allows, lists their
//! devices with a button to sign each out, and finishes the sign-in once one is. The person is
//! not signed in yet: the refused sign-in is held (`domain::identity::held_sign_ins`) and
//! named by a cookie only the browser that proved who they are holds, so nobody else can see
//! or sign out their devices. The TV approval page refuses the same way
//! (`web::oauth::device_pages`), with this page's template.

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::identity::devices::DeviceLimitReached;
use crate::domain::identity::held_sign_ins::{self, Finished, HELD_SECS};
use crate::web::account::{Device, listing, time_zone};
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::user_agent;
use crate::web::i18n::{PageText, Words};
use crate::web::login::pages::{LoginPrompt, login_page, with_csrf_cookie};
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// The cookie naming a held sign-in. Path `/login`: only this page and its forms need it.
pub(crate) const HELD_COOKIE: &str = "usher_held";

/// The refusal page, for a sign-in here or a TV approved from here.
#[derive(Template)]
#[template(path = "device_limit.html")]
pub(crate) struct DeviceLimitPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    pub heading: String,
    pub lead: String,
    /// A message id.
    pub notice: Option<&'static str>,
    pub devices: Vec<Device>,
    pub csrf: String,
    /// Where each "Sign out" form posts.
    pub action: &'static str,
    /// The TV's code, carried by the forms of a TV approval.
    pub user_code: Option<String>,
    /// Whether to offer trying again without signing a device out here.
    pub retry: bool,
    pub cancel_href: &'static str,
    /// A message id.
    pub cancel_text: &'static str,
}

/// "Your plan allows 2 devices".
pub(crate) fn heading(t: &PageText, limit: &DeviceLimitReached) -> String {
    t.count("device-limit-heading", i64::from(limit.max_devices))
}

/// "2 devices are signed in to your account, the most your plan allows.", then `then`.
pub(crate) fn lead(t: &PageText, limit: &DeviceLimitReached, then: &str) -> String {
    let count = i64::try_from(limit.devices.len()).unwrap_or(i64::MAX);
    format!("{} {then}", t.count("device-limit-in-use", count))
}

fn held_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(HELD_COOKIE, token)
        .path(paths::LOGIN)
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(HELD_SECS))
        .finish()
}

/// The answer to a sign-in refused for its device limit and held under `token`: on to the
/// refusal page, with the cookie that names the held sign-in.
pub(crate) fn to_refusal_page(state: &AppState, token: String) -> Result<HttpResponse, PageError> {
    let mut response = pages::see_other(paths::LOGIN_DEVICES);
    pages::add_cookie(&mut response, &held_cookie(state, token))?;
    Ok(response)
}

fn held_cookie_removal(state: &AppState) -> Cookie<'static> {
    let mut removal = held_cookie(state, String::new());
    removal.make_removal();
    removal
}

fn held_token(request: &HttpRequest) -> Option<String> {
    request
        .cookie(HELD_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|token| !token.is_empty())
}

/// The login page, saying the held sign-in is over.
fn start_again(state: &AppState, request: &HttpRequest) -> Result<HttpResponse, PageError> {
    let prompt = LoginPrompt {
        error: Some(Words::Message("sign-in-timed-out")),
        ..LoginPrompt::default()
    };
    let mut response = login_page(state, request, StatusCode::UNAUTHORIZED, prompt)?;
    pages::add_cookie(&mut response, &held_cookie_removal(state))?;
    Ok(response)
}

/// Renders the refusal page of a held sign-in: the devices to choose from, or, when one was
/// signed out elsewhere meanwhile, a button to finish.
fn refusal_page(
    state: &AppState,
    request: &HttpRequest,
    limit: Option<DeviceLimitReached>,
    notice: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let t = crate::web::i18n::page(state, request);
    // No one is signed in yet: the zone is the browser's, as the language is.
    let dates = time_zone::dates(t.locale, request, None);
    let (heading, lead, devices) = match limit {
        Some(limit) => (
            heading(&t, &limit),
            lead(&t, &limit, &t.get("device-limit-lead")),
            listing(limit.devices, "", &dates),
        ),
        None => (
            t.get("device-limit-room"),
            t.get("device-limit-room-lead"),
            Vec::new(),
        ),
    };
    let page = DeviceLimitPage {
        t,
        heading,
        lead,
        notice,
        devices,
        csrf: token.token.clone(),
        action: paths::LOGIN_DEVICES_END,
        user_code: None,
        retry: true,
        cancel_href: paths::LOGIN,
        cancel_text: "cancel-signing-in",
    };
    let status = if page.devices.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// `GET /login/devices`: the refusal page of the sign-in this browser holds.
pub(crate) async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let Some(token) = held_token(&request) else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let (worker_state, replacing) = (Arc::clone(&state.core), session_cookie::token(&state, &request));
    let limit = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            held_sign_ins::limit(conn, &token, replacing.as_deref(), now)
        })
        .await?;
    match limit {
        Some(limit) => refusal_page(&state, &request, limit, None),
        None => start_again(&state, &request),
    }
}

/// `POST /login/devices/end`: signs out the device `sid` (or none, to try again) and finishes
/// the held sign-in, on to where the person was going.
pub(crate) async fn sign_out_and_continue(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(token) = held_token(&request) else {
        return start_again(&state, &request);
    };
    let sid = form.get("sid").filter(|sid| !sid.is_empty()).map(str::to_owned);
    let signed_out_one = sid.is_some();
    let (worker_state, agent, replacing) = (
        Arc::clone(&state.core),
        user_agent(&request).to_owned(),
        session_cookie::token(&state, &request),
    );
    let finished = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            held_sign_ins::sign_out_and_finish(
                &worker_state,
                conn,
                &token,
                sid.as_deref(),
                &agent,
                replacing.as_deref(),
                now,
            )
        })
        .await?;
    match finished {
        Finished::SignedIn { token, continue_to } => {
            let mut response = pages::see_other(&continue_to);
            for cookie in [session_cookie::issue(&state, token), held_cookie_removal(&state)] {
                pages::add_cookie(&mut response, &cookie)?;
            }
            Ok(response)
        }
        Finished::StillFull(limit) => {
            let notice = signed_out_one.then_some("device-limit-still-full");
            refusal_page(&state, &request, Some(limit), notice)
        }
        Finished::Gone => start_again(&state, &request),
    }
}
