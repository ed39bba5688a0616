//! The device verification pages (RFC 8628 §3.3): the person, signed in on their phone,
//! types the code the TV shows (or arrives with it from the QR code), sees which app asks for
//! what, and allows or denies. Wrong codes are limited per account and per IP address
//! ([`device::look_up`]), and all look the same: malformed, unknown, expired or already
//! answered.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::identity::devices::DeviceLimitReached;
use crate::domain::identity::session::SignedIn;
use crate::domain::oauth::device::{self, Decided, Lookup, PendingRequest};
use crate::domain::oauth::parameters::Parameters;
use crate::domain::oauth::scopes;
use crate::domain::profiles::{self, Needed};
use crate::foundation::store::profiles::Profile;
use crate::web::account::{listing, time_zone};
use crate::web::csrf;
use crate::web::extractors::{PageForm, Visitor};
use crate::web::form::query_param;
use crate::web::login::device_limit::{self, DeviceLimitPage};
use crate::web::login::pages::{client_ip, with_csrf_cookie};
use crate::web::oauth::authorize::describe_scope;
use crate::web::oauth::profile_picker::{self, ChoiceForm};
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::return_to::ReturnTo;
use crate::web::session_cookie;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "device_enter.html")]
struct EnterPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    /// Why the code was refused, as a message id.
    error: Option<&'static str>,
    user_code: String,
}

#[derive(Template)]
#[template(path = "device_confirm.html")]
struct ConfirmPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    app_name: String,
    app_logo: Option<String>,
    user_code: String,
    /// What the app may do, as message ids.
    permissions: Vec<&'static str>,
    email: String,
}

#[derive(Template)]
#[template(path = "device_done.html")]
struct DonePage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    allowed: bool,
    app_name: String,
    app_logo: Option<String>,
    /// The person signed this phone out to make room for the device.
    signed_out_here: bool,
}

fn enter_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    error: Option<&'static str>,
    user_code: &str,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let page = EnterPage {
        t: crate::web::i18n::page(state, request),
        csrf: token.token.clone(),
        error,
        user_code: user_code.chars().take(20).collect(),
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// The login page, returning here with the code once the person is signed in.
fn sign_in_first(user_code: Option<&str>) -> HttpResponse {
    pages::see_other(&ReturnTo::DeviceVerification(user_code.unwrap_or_default().to_owned()).sign_in_url())
}

/// Looks up a typed code for the person signed in, from the request's address.
async fn lookup(
    state: &AppState,
    request: &HttpRequest,
    signed_in: &SignedIn,
    typed: &str,
) -> Result<Lookup, PageError> {
    Ok(device::look_up(&state.core, &signed_in.user.id, &client_ip(request), typed).await?)
}

async fn answer_code(
    state: &AppState,
    request: &HttpRequest,
    signed_in: SignedIn,
    typed: &str,
) -> Result<HttpResponse, PageError> {
    match lookup(state, request, &signed_in, typed).await? {
        Lookup::Found(pending) => {
            let token = csrf::token(state, request);
            let page = ConfirmPage {
                t: crate::web::i18n::page_for(state, request, signed_in.user.locale.as_deref()),
                csrf: token.token.clone(),
                app_logo: pending.client_logo.clone(),
                app_name: pending.client_name,
                user_code: device::display_user_code(&pending.user_code),
                permissions: pending
                    .scopes
                    .iter()
                    .filter_map(|scope| describe_scope(scope))
                    .collect(),
                email: signed_in.user.email,
            };
            let mut response = pages::render(StatusCode::OK, &page)?;
            pages::allow_image(&mut response, page.app_logo.as_deref());
            with_csrf_cookie(response, token)
        }
        Lookup::Wrong => enter_page(
            state,
            request,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("device-code-wrong"),
            typed,
        ),
        Lookup::Throttled => enter_page(
            state,
            request,
            StatusCode::TOO_MANY_REQUESTS,
            Some("codes-throttled"),
            typed,
        ),
    }
}

/// `GET /device`, with `?user_code=` when the person came from the QR code.
pub(crate) async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    Visitor(visitor): Visitor,
) -> Result<HttpResponse, PageError> {
    let typed = query_param(&request, "user_code");
    let Some(signed_in) = visitor else {
        return Ok(sign_in_first(typed.as_deref()));
    };
    match typed {
        Some(typed) if !typed.is_empty() => answer_code(&state, &request, signed_in, &typed).await,
        _ => enter_page(&state, &request, StatusCode::OK, None, ""),
    }
}

/// `POST /device`: the typed code.
pub(crate) async fn enter(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let typed = form.get("user_code").unwrap_or_default().to_owned();
    let Some(signed_in) = session_cookie::current(&state, &request).await? else {
        return Ok(sign_in_first(Some(&typed)));
    };
    answer_code(&state, &request, signed_in, &typed).await
}

/// The pending request behind the code a form names again, through the same limits as typing
/// one; otherwise the code page, saying why.
async fn named_request(
    state: &AppState,
    request: &HttpRequest,
    signed_in: &SignedIn,
    typed: &str,
) -> Result<Result<PendingRequest, HttpResponse>, PageError> {
    match lookup(state, request, signed_in, typed).await? {
        Lookup::Found(pending) => Ok(Ok(pending)),
        Lookup::Wrong => Ok(Err(no_longer_pending(state, request)?)),
        Lookup::Throttled => Ok(Err(enter_page(
            state,
            request,
            StatusCode::TOO_MANY_REQUESTS,
            Some("codes-throttled"),
            "",
        )?)),
    }
}

fn no_longer_pending(state: &AppState, request: &HttpRequest) -> Result<HttpResponse, PageError> {
    enter_page(
        state,
        request,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("device-code-gone"),
        "",
    )
}

/// The page for a recorded answer, or for an approval the plan's device limit refused.
/// `current_sid` is the session answering, unless it was just signed out (`signed_out_here`).
fn answered(
    state: &AppState,
    request: &HttpRequest,
    decided: Decided,
    allowed: bool,
    pending: PendingRequest,
    current_sid: &str,
    signed_out_here: bool,
) -> Result<HttpResponse, PageError> {
    let mut response = match decided {
        Decided::Answered => {
            let page = DonePage {
                t: crate::web::i18n::page(state, request),
                allowed,
                app_logo: pending.client_logo.clone(),
                app_name: pending.client_name,
                signed_out_here,
            };
            let mut response = pages::render(StatusCode::OK, &page)?;
            pages::allow_image(&mut response, page.app_logo.as_deref());
            response
        }
        Decided::NotPending => no_longer_pending(state, request)?,
        Decided::Refused(limit) => device_limit_page(state, request, limit, &pending, current_sid)?,
    };
    if signed_out_here {
        pages::add_cookie(&mut response, &session_cookie::removal(state))?;
    }
    Ok(response)
}

/// The approval refused: the plan's limit, the devices signed in (this phone among them), and
/// a button to sign each out and let the TV in instead.
fn device_limit_page(
    state: &AppState,
    request: &HttpRequest,
    limit: DeviceLimitReached,
    pending: &PendingRequest,
    current_sid: &str,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let t = crate::web::i18n::page(state, request);
    // Like the page's language, its zone is the browser's: the phone approving may not be
    // the account's usual browser.
    let dates = time_zone::dates(t.locale, request, None);
    let page = DeviceLimitPage {
        heading: device_limit::heading(&t, &limit),
        lead: device_limit::lead(
            &t,
            &limit,
            &t.with("device-limit-tv-lead", "app", &pending.client_name),
        ),
        t,
        notice: None,
        devices: listing(limit.devices, current_sid, &dates),
        csrf: token.token.clone(),
        action: paths::DEVICE_DEVICES_END,
        user_code: Some(device::display_user_code(&pending.user_code)),
        retry: false,
        cancel_href: device::VERIFICATION_PATH,
        cancel_text: "not-now",
    };
    with_csrf_cookie(pages::render(StatusCode::FORBIDDEN, &page)?, token)
}

/// `POST /device/decision`: Allow or Deny.
pub(crate) async fn decide(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let typed = form.get("user_code").unwrap_or_default().to_owned();
    let Some(signed_in) = session_cookie::current(&state, &request).await? else {
        return Ok(sign_in_first(Some(&typed)));
    };
    let allowed = match form.require("decision")? {
        "allow" => true,
        "deny" => false,
        _ => return Err(PageError::bad_request_said("choose-allow-or-deny")),
    };
    let pending = match named_request(&state, &request, &signed_in, &typed).await? {
        Ok(pending) => pending,
        Err(page) => return Ok(page),
    };
    let profile_id = if allowed {
        match profile_for_device(&state, &signed_in, &pending).await? {
            Ok(profile_id) => profile_id,
            Err(choices) => return picker(&state, &request, &pending, &choices),
        }
    } else {
        None
    };
    record_answer(&state, &request, signed_in, pending, allowed, profile_id).await
}

/// Records the answer and shows how it went.
async fn record_answer(
    state: &AppState,
    request: &HttpRequest,
    signed_in: SignedIn,
    pending: PendingRequest,
    allowed: bool,
    profile_id: Option<String>,
) -> Result<HttpResponse, PageError> {
    let current_sid = signed_in.session.sid.clone();
    let (worker_state, session, user_code) = (
        Arc::clone(&state.core),
        signed_in.session,
        pending.user_code.clone(),
    );
    let decided = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            device::decide(conn, &user_code, &session, allowed, profile_id.as_deref(), now)
        })
        .await?;
    answered(state, request, decided, allowed, pending, &current_sid, false)
}

/// The profile the device gets without asking (`Ok`), or the profiles to choose from.
async fn profile_for_device(
    state: &AppState,
    signed_in: &SignedIn,
    pending: &PendingRequest,
) -> Result<Result<Option<String>, Vec<Profile>>, PageError> {
    if !pending.scopes.iter().any(|scope| scope == scopes::PROFILES) {
        return Ok(Ok(None));
    }
    Ok(match profiles::needed(state, &signed_in.user.id).await? {
        Needed::Nothing => Ok(None),
        Needed::Only(profile) => Ok(Some(profile.id)),
        Needed::Choice(choices) => Err(choices),
    })
}

/// The picker's form on the phone: the device's code travels with the choice.
fn profile_choice(pending: &PendingRequest) -> ChoiceForm {
    let user_code = device::display_user_code(&pending.user_code);
    ChoiceForm {
        action: paths::DEVICE_PROFILE,
        back: format!("{}?user_code={user_code}", device::VERIFICATION_PATH),
        carried: vec![("user_code", user_code)],
    }
}

/// "Who's watching?" for the device.
fn picker(
    state: &AppState,
    request: &HttpRequest,
    pending: &PendingRequest,
    choices: &[Profile],
) -> Result<HttpResponse, PageError> {
    profile_picker::picker(
        state,
        request,
        profile_choice(pending),
        choices,
        StatusCode::OK,
        None,
    )
}

/// `POST /device/profile`: the profile the phone chose for the device, with its PIN where it
/// has one; allowing the device follows.
pub(crate) async fn choose_profile(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let typed = form.get("user_code").unwrap_or_default().to_owned();
    let Some(signed_in) = session_cookie::current(&state, &request).await? else {
        return Ok(sign_in_first(Some(&typed)));
    };
    let pending = match named_request(&state, &request, &signed_in, &typed).await? {
        Ok(pending) => pending,
        Err(page) => return Ok(page),
    };
    let profile_id = form.require("profile")?;
    match profiles::unlock(&state.core, &signed_in.user.id, profile_id, form.get("pin")).await? {
        Ok(profile) => record_answer(&state, &request, signed_in, pending, true, Some(profile.id)).await,
        Err(locked) => {
            let choice = profile_choice(&pending);
            profile_picker::locked(&state, &request, choice, &signed_in.user.id, locked).await
        }
    }
}

/// `POST /device/devices/end`: on the refusal page, signs out one of the person's devices
/// (possibly this phone) and allows the TV in its place.
pub(crate) async fn sign_out_and_allow(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let typed = form.get("user_code").unwrap_or_default().to_owned();
    let Some(signed_in) = session_cookie::current(&state, &request).await? else {
        return Ok(sign_in_first(Some(&typed)));
    };
    let sid = form.require("sid")?.to_owned();
    let pending = match named_request(&state, &request, &signed_in, &typed).await? {
        Ok(pending) => pending,
        Err(page) => return Ok(page),
    };
    let signed_out_here = sid == signed_in.session.sid;
    let current_sid = if signed_out_here {
        String::new()
    } else {
        signed_in.session.sid.clone()
    };
    let profile_id = match profile_for_device(&state, &signed_in, &pending).await? {
        Ok(profile_id) => profile_id,
        Err(choices) => {
            // The slot is freed now and taken once the profile is chosen (and unlocked).
            let (worker_state, session) = (Arc::clone(&state.core), signed_in.session);
            state
                .store
                .run(move |conn| {
                    let now = worker_state.clock.now();
                    device::sign_out_device(&worker_state, conn, &session, &sid, now)
                })
                .await?;
            let mut page = picker(&state, &request, &pending, &choices)?;
            if signed_out_here {
                pages::add_cookie(&mut page, &session_cookie::removal(&state))?;
            }
            return Ok(page);
        }
    };
    let (worker_state, session, user_code) = (
        Arc::clone(&state.core),
        signed_in.session,
        pending.user_code.clone(),
    );
    let decided = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            device::sign_out_and_allow(
                &worker_state,
                conn,
                &user_code,
                &session,
                &sid,
                profile_id.as_deref(),
                now,
            )
        })
        .await?;
    answered(
        &state,
        &request,
        decided,
        true,
        pending,
        &current_sid,
        signed_out_here,
    )
}

/// `GET /device/qr?user_code=…`: an SVG QR code of `verification_uri_complete`, for a TV app
/// to show beside the code.
pub(crate) async fn qr(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, PageError> {
    let Some(user_code) = query_param(&request, "user_code")
        .as_deref()
        .and_then(device::normalize_user_code)
    else {
        return Err(PageError::bad_request(
            "user_code must be a device user code, like BCDF-GHJK",
        ));
    };
    let uri = device::verification_uri_complete(&state.issuer, &user_code);
    let svg = crate::domain::identity::totp::qr_svg(&uri, "QR code to sign in this device")?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(svg))
}
