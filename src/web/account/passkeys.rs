//! Passkeys on the account page: adding one (also offered right after signing in another
//! way), listing them, removing one. The ceremonies live in [`crate::domain::identity::passkeys`].

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::identity::notices::{self, AccountChange};
use crate::domain::identity::passkeys::{self, OFFER_COOKIE, PasskeyError};
use crate::domain::oauth::parameters::Parameters;
use crate::foundation::store::passkeys as store;
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::time::Dates;
use crate::web::account::{credential_change_refused, form_author, passkey_name};
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::{query_param, user_agent};
use crate::web::i18n::Words;
use crate::web::login::pages::with_csrf_cookie;
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::return_to::ReturnTo;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// How long after signing in a person still counts as just signed in, for the request that
/// continues after the offer.
pub(crate) const JUST_SIGNED_IN_SECS: i64 = 120;

/// How long after an offer was shown (or declined) it is not shown again.
const OFFER_QUIET_DAYS: i64 = 30;

/// A passkey as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PasskeyListing {
    pub id: String,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
}

pub(crate) fn list(
    conn: &mut DbConnection,
    user_id: &str,
    dates: &Dates,
) -> Result<Vec<PasskeyListing>, StoreError> {
    Ok(store::list_for_user(conn, user_id)?
        .into_iter()
        .map(|row| PasskeyListing {
            id: row.id,
            name: row.name,
            added: dates.show(row.created_at),
            last_used: row.last_used_at.map(|at| dates.show(at)),
        })
        .collect())
}

/// The page that offers a passkey after sign-in, and the one that asks an administrator for
/// a second factor: the same form, different words.
#[derive(Template)]
#[template(path = "passkey_offer.html")]
struct OfferPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    request: String,
    continue_url: String,
    device: String,
    /// An administrator without a second factor: no "Not now", and an authenticator app
    /// as the other choice.
    required: bool,
    /// Whether passkeys can be added here (the relying party is set up).
    passkeys: bool,
}

async fn offer_page(
    state: &AppState,
    request: &HttpRequest,
    required: bool,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = session_cookie::current(state, request).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let carried = query_param(request, "request").unwrap_or_default();
    // Only a sign-in that just happened satisfies the request's prompt=login or max_age: this
    // page can be linked to with any request.
    let just_signed_in = state.clock.now() - signed_in.session.auth_time < JUST_SIGNED_IN_SECS;
    let token = csrf::token(state, request);
    let t = crate::web::i18n::page_for(state, request, signed_in.user.locale.as_deref());
    let page = OfferPage {
        device: passkey_name(user_agent(request), t.locale),
        t,
        csrf: token.token.clone(),
        continue_url: ReturnTo::parse(&carried).location(just_signed_in),
        request: carried,
        required,
        passkeys: state.passkeys.is_some(),
    };
    let mut response = with_csrf_cookie(pages::render(StatusCode::OK, &page)?, token)?;
    if !required {
        let quiet = Cookie::build(OFFER_COOKIE, "1")
            .path("/")
            .http_only(true)
            .secure(state.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(Duration::days(OFFER_QUIET_DAYS))
            .finish();
        pages::add_cookie(&mut response, &quiet)?;
    }
    Ok(response)
}

/// `GET /account/passkeys/offer`: "sign in faster next time", right after a sign-in.
pub(crate) async fn offer(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    offer_page(&state.into_inner(), &request, false).await
}

/// `GET /account/second-factor`: an administrator must add a passkey or an authenticator app.
pub(crate) async fn second_factor(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    offer_page(&state.into_inner(), &request, true).await
}

/// `POST /account/passkeys/options`: a registration ceremony for the page's script.
pub(crate) async fn options(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Err(PageError::said(
            StatusCode::UNAUTHORIZED,
            "session-ended",
            Words::Message("session-ended-lead"),
        ));
    };
    if let Some(refusal) = credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    let worker_state = Arc::clone(&state.core);
    let started = state
        .store
        .run(move |conn| {
            let webauthn = worker_state.passkeys.as_ref().ok_or(PasskeyError::Off)?;
            passkeys::start_registration(webauthn, conn, &signed_in.user, worker_state.clock.now())
        })
        .await?;
    Ok(pages::json(&started))
}

/// `POST /account/passkeys`: the browser's answer to a registration ceremony.
pub(crate) async fn add(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    if let Some(refusal) = credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    let name = passkeys::clean_name(
        form.get("name").unwrap_or_default(),
        &passkey_name(
            user_agent(&request),
            crate::web::i18n::page_for(&state, &request, signed_in.user.locale.as_deref()).locale,
        ),
    )?;
    let (ceremony, answer) = (
        form.get("ceremony").unwrap_or_default().to_owned(),
        form.get("credential").unwrap_or_default().to_owned(),
    );
    let (worker_state, user_id) = (Arc::clone(&state.core), signed_in.user.id.clone());
    let added = state
        .store
        .run(move |conn| {
            let webauthn = worker_state.passkeys.as_ref().ok_or(PasskeyError::Off)?;
            let now = worker_state.clock.now();
            passkeys::finish_registration(webauthn, conn, &user_id, &ceremony, &answer, &name, now)
        })
        .await;
    let row = match added {
        Ok(row) => row,
        Err(PasskeyError::Refused(cause)) => {
            tracing::info!(%cause, "passkey registration refused");
            return Err(PageError::bad_request_said("passkey-not-added"));
        }
        Err(other) => return Err(other.into()),
    };
    notices::credential_changed(
        &state,
        &signed_in.user,
        AccountChange::PasskeyAdded { name: row.name },
        Some(crate::web::i18n::locale(&state, &request, None)),
    );
    let just_signed_in = state.clock.now() - signed_in.session.auth_time < JUST_SIGNED_IN_SECS;
    match form.get("request") {
        Some(carried) => Ok(pages::see_other(
            &ReturnTo::parse(carried).location(just_signed_in),
        )),
        None => Ok(pages::see_other("/account?done=passkey-added")),
    }
}

/// `POST /account/passkeys/remove`.
pub(crate) async fn remove(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    if let Some(refusal) = credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    let id = form.require("id")?.to_owned();
    let (worker_state, user_id) = (Arc::clone(&state.core), signed_in.user.id.clone());
    let removed = state
        .store
        .run(move |conn| passkeys::remove(conn, &user_id, &id, worker_state.clock.now()))
        .await?;
    let Some(name) = removed else {
        return Ok(pages::see_other(paths::ACCOUNT));
    };
    notices::credential_changed(
        &state,
        &signed_in.user,
        AccountChange::PasskeyRemoved { name },
        Some(crate::web::i18n::locale(&state, &request, None)),
    );
    Ok(pages::see_other("/account?done=passkey-removed"))
}
