//! Two-step sign-in on the account page: setting up an authenticator app, seeing the
//! recovery codes once, and turning it off. The rules live in [`crate::domain::identity::totp`].

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use url::form_urlencoded;

use crate::domain::identity::notices::{self, AccountChange};
use crate::domain::identity::totp;
use crate::foundation::store::{DbConnection, StoreError, totp as store};
use crate::foundation::time::Dates;
use crate::web::account::form_author;
use crate::web::account::passkeys::JUST_SIGNED_IN_SECS;
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::query_param;
use crate::web::login::pages::with_csrf_cookie;
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::return_to::ReturnTo;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// The account page's two-step card when it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TwoStep {
    pub since: String,
    pub recovery_codes_left: i64,
}

pub(crate) fn two_step(
    conn: &mut DbConnection,
    user_id: &str,
    dates: &Dates,
) -> Result<Option<TwoStep>, StoreError> {
    let Some(since) = totp::enabled_since(conn, user_id)? else {
        return Ok(None);
    };
    Ok(Some(TwoStep {
        since: dates.show(since),
        recovery_codes_left: store::unused_recovery_codes(conn, user_id)?,
    }))
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct SetupPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    /// Where the sign-in that asked for a second factor was going, carried on ([`ReturnTo`]).
    request: String,
    /// A message id.
    error: Option<&'static str>,
    secret: String,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    codes: Vec<String>,
    /// Where to go next when a sign-in asked for the second factor on its way elsewhere.
    continue_to: Option<String>,
}

/// A change that asks for a current code first: turning TOTP off, or new recovery codes.
#[derive(Template)]
#[template(path = "totp_code_check.html")]
struct CodeCheckPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    /// The error, title and button are message ids.
    error: Option<&'static str>,
    title: &'static str,
    action: &'static str,
    button: &'static str,
    /// Whether the button does something to regret (turning protection off).
    danger: bool,
}

/// The code check pages' title and button (message ids), action, and whether it is to regret.
const DISABLE: (&str, &str, &str, bool) = ("totp-off-title", "/account/totp/disable", "turn-off", true);
const RENEW: (&str, &str, &str, bool) = (
    "renew-codes-title",
    "/account/totp/recovery-codes",
    "renew-codes-button",
    false,
);

/// `POST /account/totp/start`.
pub(crate) async fn start(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    if let Some(refusal) = crate::web::account::credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    let worker_state = Arc::clone(&state.core);
    let started = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            totp::begin_enrolment(&worker_state, conn, &signed_in.user.id, now)
        })
        .await?;
    if !started {
        return Ok(pages::see_other(paths::ACCOUNT));
    }
    match form.get("request") {
        Some(carried) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("request", carried)
                .finish();
            Ok(pages::see_other(&format!("{}?{query}", paths::ACCOUNT_TOTP)))
        }
        None => Ok(pages::see_other(paths::ACCOUNT_TOTP)),
    }
}

async fn setup_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    error: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = session_cookie::current(state, request).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let t = crate::web::i18n::page_for(state, request, signed_in.user.locale.as_deref());
    let worker_state = Arc::clone(&state.core);
    let enrolment = state
        .store
        .run(move |conn| totp::enrolment(&worker_state, conn, &signed_in.user))
        .await?;
    let Some(enrolment) = enrolment else {
        return Ok(pages::see_other(paths::ACCOUNT));
    };
    let token = csrf::token(state, request);
    let page = SetupPage {
        t,
        csrf: token.token.clone(),
        request: query_param(request, "request").unwrap_or_default(),
        error,
        secret: enrolment.secret_text,
        qr_svg: enrolment.qr_svg,
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// `GET /account/totp`: the QR code and secret of the enrolment in progress.
pub(crate) async fn setup(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    setup_page(&state.into_inner(), &request, StatusCode::OK, None).await
}

/// `POST /account/totp/confirm`: the first code turns it on; the recovery codes show once.
pub(crate) async fn confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let code = form.get("code").unwrap_or_default().to_owned();
    let (worker_state, user_id) = (Arc::clone(&state.core), signed_in.user.id.clone());
    let codes = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            totp::confirm_enrolment(&worker_state, conn, &user_id, &code, now)
        })
        .await?;
    match codes {
        Some(codes) => {
            notices::credential_changed(
                &state,
                &signed_in.user,
                AccountChange::TwoStepOn,
                Some(crate::web::i18n::locale(&state, &request, None)),
            );
            let just_signed_in = state.clock.now() - signed_in.session.auth_time < JUST_SIGNED_IN_SECS;
            let continue_to = match ReturnTo::parse(form.get("request").unwrap_or_default()) {
                ReturnTo::Account => None,
                elsewhere => Some(elsewhere.location(just_signed_in)),
            };
            let page = RecoveryCodesPage {
                t: crate::web::i18n::page_for(&state, &request, signed_in.user.locale.as_deref()),
                codes,
                continue_to,
            };
            pages::render(StatusCode::OK, &page)
        }
        None => {
            let error = "totp-code-wrong";
            setup_page(&state, &request, StatusCode::UNPROCESSABLE_ENTITY, Some(error)).await
        }
    }
}

fn code_check_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    (title, action, button, danger): (&'static str, &'static str, &'static str, bool),
    error: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let page = CodeCheckPage {
        t: crate::web::i18n::page(state, request),
        csrf: token.token.clone(),
        error,
        title,
        action,
        button,
        danger,
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// The page again after a refused code.
fn refused<T>(
    state: &AppState,
    request: &HttpRequest,
    page: (&'static str, &'static str, &'static str, bool),
    checked: &totp::CodeChecked<T>,
) -> Result<HttpResponse, PageError> {
    match checked {
        totp::CodeChecked::Throttled => {
            let error = "codes-throttled";
            code_check_page(state, request, StatusCode::TOO_MANY_REQUESTS, page, Some(error))
        }
        _ => {
            let error = "totp-code-or-recovery-wrong";
            code_check_page(
                state,
                request,
                StatusCode::UNPROCESSABLE_ENTITY,
                page,
                Some(error),
            )
        }
    }
}

/// `POST /account/totp/disable`: a current code (or a recovery code) turns it off.
pub(crate) async fn disable(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let code = form.get("code").unwrap_or_default().to_owned();
    let (worker_state, user_id) = (Arc::clone(&state.core), signed_in.user.id.clone());
    let disabled = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            totp::disable(&worker_state, conn, &user_id, &code, now)
        })
        .await?;
    match disabled {
        totp::CodeChecked::Done(()) => {
            notices::credential_changed(
                &state,
                &signed_in.user,
                AccountChange::TwoStepOff,
                Some(crate::web::i18n::locale(&state, &request, None)),
            );
            Ok(pages::see_other("/account?done=totp-off"))
        }
        refusal => refused(&state, &request, DISABLE, &refusal),
    }
}

/// `POST /account/totp/recovery-codes`: ten new recovery codes, shown once, for a current code.
pub(crate) async fn renew_recovery_codes(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let code = form.get("code").unwrap_or_default().to_owned();
    let (worker_state, user_id) = (Arc::clone(&state.core), signed_in.user.id.clone());
    let renewed = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            totp::renew_recovery_codes(&worker_state, conn, &user_id, &code, now)
        })
        .await?;
    match renewed {
        totp::CodeChecked::Done(codes) => {
            notices::credential_changed(
                &state,
                &signed_in.user,
                AccountChange::RecoveryCodesRenewed,
                Some(crate::web::i18n::locale(&state, &request, None)),
            );
            let page = RecoveryCodesPage {
                t: crate::web::i18n::page_for(&state, &request, signed_in.user.locale.as_deref()),
                codes,
                continue_to: None,
            };
            pages::render(StatusCode::OK, &page)
        }
        refusal => refused(&state, &request, RENEW, &refusal),
    }
}
