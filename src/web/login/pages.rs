//! The login and sign-up pages. Both carry the authorization request they interrupt and
//! return to it once the person is signed in.

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use url::form_urlencoded;

use crate::domain::core::Core;
use crate::domain::identity::passkeys::{self, PasskeyError, PasskeySignIn};
use crate::domain::identity::password::{self, Outcome};
use crate::domain::identity::session::{self, Started};
use crate::domain::identity::users as admin_users;
use crate::domain::identity::{held_sign_ins, totp};
use crate::foundation::store::StoreError;
use crate::foundation::store::users::User;
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::{Form, query_param, user_agent};
use crate::web::i18n::Words;
use crate::web::i18n::duration;
use crate::web::login::device_limit;
use crate::web::pages::{self, PageError};
use crate::web::return_to::ReturnTo;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// Passkey sign-ins one address may start within `login_throttle_window_secs` (every login
/// page with autofill starts one).
const PASSKEY_CEREMONIES_PER_IP: u32 = 300;

/// The message for every failed password sign-in: it must not tell whether the account exists.
#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    pub app_name: Option<String>,
    pub error: Option<String>,
    pub csrf: String,
    /// The interrupted authorization request, form-encoded; empty when signing in directly.
    pub request: String,
    pub email: String,
    pub signup: bool,
    /// Whether the passkey button and autofill are offered (the relying party is set up).
    pub passkeys: bool,
    /// Whether the sign-in is on the way to approving a TV or other device.
    pub for_device: bool,
    /// On the way to the dashboard: what sign-in it lets in.
    pub dashboard_rule: Option<String>,
}

/// Adds the CSRF cookie to a rendered page when the browser had none.
pub(crate) fn with_csrf_cookie(
    mut response: HttpResponse,
    token: csrf::CsrfToken,
) -> Result<HttpResponse, PageError> {
    if let Some(cookie) = token.new_cookie {
        pages::add_cookie(&mut response, &cookie)?;
    }
    Ok(response)
}

/// The `request` query parameter of the login and sign-up pages.
pub(crate) fn carried_request(request: &HttpRequest) -> String {
    query_param(request, "request").unwrap_or_default()
}

/// What the login page shows besides its form.
#[derive(Default)]
pub(crate) struct LoginPrompt {
    /// The app the person is signing in to, when an authorization request is carried.
    pub app_name: Option<String>,
    /// The interrupted authorization request, form-encoded.
    pub carried: String,
    pub email: String,
    pub error: Option<Words>,
}

/// Renders the login page with a CSRF token for its form.
pub(crate) fn login_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    prompt: LoginPrompt,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let return_to = ReturnTo::parse(&prompt.carried);
    let for_device = matches!(return_to, ReturnTo::DeviceVerification(_));
    // The dashboard's gate asks for two factors, used recently: an administrator signed in
    // with one, or long ago, lands here again and is told why.
    let t = crate::web::i18n::posted_page(state, request, &prompt.carried);
    let dashboard_rule = matches!(return_to, ReturnTo::Dashboard(_)).then(|| {
        t.with(
            "login-dashboard-rule",
            "duration",
            &duration(state.config.admin_session_max_secs, t.locale),
        )
    });
    let page = LoginPage {
        error: prompt.error.map(|error| error.in_language(t.locale)),
        t,
        app_name: prompt.app_name,
        csrf: token.token.clone(),
        request: prompt.carried,
        email: prompt.email,
        signup: state.config.allow_signup,
        passkeys: state.passkeys.is_some(),
        for_device,
        dashboard_rule,
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// `GET /login`: signing in directly, not on an app's behalf, lands on the account page.
pub(crate) async fn login_form(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let prompt = LoginPrompt {
        carried: carried_request(&request),
        ..LoginPrompt::default()
    };
    login_page(&state, &request, StatusCode::OK, prompt)
}

/// The client's name, for the page heading, when the form carries an authorization request.
pub(crate) async fn app_name(state: &Core, encoded_request: &str) -> Option<String> {
    let client_id = Form::from_urlencoded(encoded_request)
        .ok()?
        .get("client_id")?
        .to_owned();
    state
        .store
        .run(move |conn| crate::foundation::store::clients::find(conn, &client_id))
        .await
        .ok()
        .flatten()
        .map(|client| client.name)
}

/// The address failures are counted against ([`crate::web::client_address`]).
pub(crate) fn client_ip(request: &HttpRequest) -> String {
    crate::web::client_address::of(request)
}

/// `POST /login`.
pub(crate) async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let carried = form.get("request").unwrap_or_default().to_owned();
    let email = admin_users::normalize_email(form.get("email").unwrap_or_default()).unwrap_or_default();
    let password = form.get("password").unwrap_or_default().to_owned();

    let outcome = password::authenticate(&state.core, &email, password, &client_ip(&request)).await?;
    match outcome {
        Outcome::SignedIn(user) => after_first_factor(&state, &request, &form, user, &carried, "pwd").await,
        Outcome::Busy => Err(PageError::busy()),
        failure => {
            let (status, message) = match failure {
                Outcome::Throttled(wait) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    Words::Count("login-throttled", (wait + 59) / 60),
                ),
                _ => (StatusCode::UNAUTHORIZED, Words::Message("login-refused")),
            };
            let prompt = LoginPrompt {
                app_name: app_name(&state, &carried).await,
                carried,
                email,
                error: Some(message),
            };
            login_page(&state, &request, status, prompt)
        }
    }
}

/// What follows a first factor (`method`, an `amr` value): the code step when the person has
/// two-step sign-in, else a session and on to [`next_location`].
pub(crate) async fn after_first_factor(
    state: &AppState,
    request: &HttpRequest,
    form: &Form<'_>,
    user: User,
    carried: &str,
    method: &'static str,
) -> Result<HttpResponse, PageError> {
    if let Some(challenge) = second_step(state, &user, carried, method).await? {
        return code_page(state, request, StatusCode::OK, carried, None, Some(challenge));
    }
    let location = next_location(state, request, form, &user, carried).await?;
    sign_in_and_go(state, request, user, vec![method.to_owned()], &location).await
}

/// How a sign-in ended: a session, or held for a device to be signed out.
enum SignIn {
    /// The token of the new session.
    Session(String),
    /// The token naming the held sign-in.
    Held(String),
}

/// Signs in someone who just proved who they are by `amr` and sends them on to `location`;
/// when their plan allows no more devices, holds the sign-in and sends them to the page that
/// lets them sign one out ([`device_limit`]).
pub(crate) async fn sign_in_and_go(
    state: &AppState,
    request: &HttpRequest,
    user: User,
    amr: Vec<String>,
    location: &str,
) -> Result<HttpResponse, PageError> {
    let (worker_state, agent, previous, continue_to) = (
        Arc::clone(&state.core),
        user_agent(request).to_owned(),
        session_cookie::token(state, request),
        location.to_owned(),
    );
    let signed_in = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            match session::start(
                &worker_state,
                conn,
                &user,
                amr.clone(),
                &agent,
                previous.as_deref(),
                now,
            )? {
                Started::SignedIn { token, .. } => Ok::<_, StoreError>(SignIn::Session(token)),
                Started::Refused(_) => {
                    held_sign_ins::hold(conn, &user.id, &amr, &continue_to, now).map(SignIn::Held)
                }
            }
        })
        .await?;
    match signed_in {
        SignIn::Session(token) => {
            let mut response = pages::see_other(location);
            pages::add_cookie(&mut response, &session_cookie::issue(state, token))?;
            Ok(response)
        }
        SignIn::Held(token) => device_limit::to_refusal_page(state, token),
    }
}

/// The cookie naming a sign-in that waits for its second factor. Path `/login`: only the
/// code form needs it.
pub(crate) const CHALLENGE_COOKIE: &str = "usher_2fa";

#[derive(Template)]
#[template(path = "login_code.html")]
pub(crate) struct CodePage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    pub error: Option<String>,
    pub csrf: String,
    /// The interrupted authorization request, so a sign-in that must start over returns to it.
    pub request: String,
    /// Whether the page's script may look for a built-in authenticator (to offer a passkey).
    pub passkeys: bool,
}

fn challenge_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(CHALLENGE_COOKIE, token)
        .path("/login")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(totp::CHALLENGE_SECS))
        .finish()
}

/// When `user` has a second factor, starts the challenge after `first_factor` (an `amr`
/// value) and returns its cookie token.
async fn second_step(
    state: &AppState,
    user: &User,
    carried: &str,
    first_factor: &'static str,
) -> Result<Option<String>, StoreError> {
    let (worker_state, user_id, carried) = (Arc::clone(&state.core), user.id.clone(), carried.to_owned());
    state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            if totp::enabled_since(conn, &user_id)?.is_none() {
                return Ok(None);
            }
            totp::start_challenge(conn, &user_id, &carried, first_factor, now).map(Some)
        })
        .await
}

/// Renders the code form; `new_challenge` is set when the challenge cookie is to be set.
fn code_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    carried: &str,
    error: Option<Words>,
    new_challenge: Option<String>,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let t = crate::web::i18n::posted_page(state, request, carried);
    let page = CodePage {
        error: error.map(|error| error.in_language(t.locale)),
        t,
        csrf: token.token.clone(),
        request: carried.to_owned(),
        passkeys: state.passkeys.is_some(),
    };
    let mut response = with_csrf_cookie(pages::render(status, &page)?, token)?;
    if let Some(challenge) = new_challenge {
        pages::add_cookie(&mut response, &challenge_cookie(state, challenge))?;
    }
    Ok(response)
}

/// `POST /login/code`: the second step of a password sign-in.
pub(crate) async fn login_code(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let code = form.get("code").unwrap_or_default().to_owned();
    let carried = form.get("request").unwrap_or_default().to_owned();
    let token = request
        .cookie(CHALLENGE_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .unwrap_or_default();
    let worker_state = Arc::clone(&state.core);
    let outcome = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            totp::answer_challenge(&worker_state, conn, &token, &code, now)
        })
        .await?;
    let mut removal = challenge_cookie(&state, String::new());
    removal.make_removal();
    let (status, message) = match outcome {
        totp::ChallengeOutcome::Passed {
            user,
            carried,
            amr,
            used_recovery_code,
        } => {
            if used_recovery_code {
                crate::domain::identity::notices::credential_changed(
                    &state,
                    &user,
                    crate::domain::identity::notices::AccountChange::RecoveryCodeUsed,
                    Some(crate::web::i18n::locale(&state, &request, None)),
                );
            }
            let location = next_location(&state, &request, &form, &user, &carried).await?;
            let mut response = sign_in_and_go(&state, &request, *user, amr, &location).await?;
            pages::add_cookie(&mut response, &removal)?;
            return Ok(response);
        }
        totp::ChallengeOutcome::Wrong => {
            return code_page(
                &state,
                &request,
                StatusCode::UNAUTHORIZED,
                &carried,
                Some(Words::Message("login-code-wrong")),
                None,
            );
        }
        totp::ChallengeOutcome::Throttled(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            Words::Count("login-code-throttled", (wait + 59) / 60),
        ),
        totp::ChallengeOutcome::Gone => (StatusCode::UNAUTHORIZED, Words::Message("login-code-gone")),
    };
    // Starting over returns to the app that asked, not to the account page.
    let prompt = LoginPrompt {
        app_name: app_name(&state, &carried).await,
        carried,
        error: Some(message),
        ..LoginPrompt::default()
    };
    let mut response = login_page(&state, &request, status, prompt)?;
    pages::add_cookie(&mut response, &removal)?;
    Ok(response)
}

/// Where a person goes once signed in without a passkey: back to the app, unless this is a
/// good moment to offer one (the page's script found a built-in authenticator, they have no
/// passkey yet, and they were not asked lately), or they are an administrator without a
/// second factor, who must add one first.
async fn next_location(
    state: &AppState,
    request: &HttpRequest,
    form: &Form<'_>,
    user: &User,
    carried: &str,
) -> Result<String, StoreError> {
    let offer = state.passkeys.is_some()
        && form.get("passkey_offer") == Some("1")
        && request.cookie(passkeys::OFFER_COOKIE).is_none();
    if !offer && !user.is_admin {
        return Ok(ReturnTo::parse(carried).location(true));
    }
    let user_id = user.id.clone();
    let (has_passkey, has_totp) = state
        .store
        .run(move |conn| {
            Ok::<_, StoreError>((
                crate::foundation::store::passkeys::count_for_user(conn, &user_id)? > 0,
                totp::enabled_since(conn, &user_id)?.is_some(),
            ))
        })
        .await?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("request", carried)
        .finish();
    if user.is_admin && !has_passkey && !has_totp {
        return Ok(format!("{}?{query}", passkeys::SECOND_FACTOR_PATH));
    }
    if offer && !has_passkey {
        return Ok(format!("{}?{query}", passkeys::OFFER_PATH));
    }
    Ok(ReturnTo::parse(carried).location(true))
}

/// `POST /login/passkey/options`: a sign-in ceremony for the login page's script.
pub(crate) async fn passkey_options(
    state: web::Data<AppState>,
    request: HttpRequest,
    _form: PageForm,
) -> Result<HttpResponse, PageError> {
    // Each ceremony is a row until it expires: one address may not start them without end.
    let (key, now) = (
        format!("passkey-options:{}", client_ip(&request)),
        state.clock.now(),
    );
    if state
        .login_throttle
        .count_attempt(&state.store, &key, PASSKEY_CEREMONIES_PER_IP, now)
        .await?
        .is_some()
    {
        return Err(PageError::said(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            Words::Message("passkeys-throttled"),
        ));
    }
    let worker_state = Arc::clone(&state.core);
    let started = state
        .store
        .run(move |conn| {
            let webauthn = worker_state.passkeys.as_ref().ok_or(PasskeyError::Off)?;
            passkeys::start_sign_in(webauthn, conn, worker_state.clock.now())
        })
        .await?;
    Ok(pages::json(&started))
}

/// `POST /login/passkey`: the browser's answer to a sign-in ceremony.
pub(crate) async fn passkey_sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let carried = form.get("request").unwrap_or_default().to_owned();
    let (ceremony, answer) = (
        form.get("ceremony").unwrap_or_default().to_owned(),
        form.get("credential").unwrap_or_default().to_owned(),
    );
    let worker_state = Arc::clone(&state.core);
    let outcome = state
        .store
        .run(move |conn| {
            let webauthn = worker_state.passkeys.as_ref().ok_or(PasskeyError::Off)?;
            passkeys::finish_sign_in(webauthn, conn, &ceremony, &answer, worker_state.clock.now())
        })
        .await;
    match outcome {
        Ok(PasskeySignIn { user, amr }) => {
            let location = ReturnTo::parse(&carried).location(true);
            sign_in_and_go(&state, &request, user, amr, &location).await
        }
        Err(PasskeyError::Refused(cause)) => {
            tracing::info!(%cause, "passkey sign-in refused");
            let prompt = LoginPrompt {
                app_name: app_name(&state, &carried).await,
                carried,
                error: Some(Words::Message("passkey-refused")),
                ..LoginPrompt::default()
            };
            login_page(&state, &request, StatusCode::UNAUTHORIZED, prompt)
        }
        Err(other) => Err(other.into()),
    }
}
