//! The pages of emailed sign-in links: asking for one from the login page, and the page the
//! link opens, whose button spends it. The rules live in [`crate::domain::identity::links`].

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::core::Core;
use crate::domain::households::Joining;
use crate::domain::identity::links::{self, LinkSignIn};
use crate::domain::identity::users::normalize_email;
use crate::foundation::i18n::Locale;
use crate::foundation::store::StoreError;
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::query_param;
use crate::web::i18n::Words;
use crate::web::login::pages::{
    LoginPrompt, after_first_factor, app_name, carried_request, client_ip, login_page, with_csrf_cookie,
};
use crate::web::pages::{self, PageError};
use crate::web::return_to::ReturnTo;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "link_sent.html")]
struct SentPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    email: String,
    signup: bool,
    minutes: i64,
    request: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    error: Option<String>,
    csrf: String,
    request: String,
    email: String,
}

#[derive(Template)]
#[template(path = "link_continue.html")]
struct ContinuePage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    email: String,
    token: String,
    passkeys: bool,
}

fn link_gone() -> PageError {
    PageError::said(StatusCode::GONE, "link-gone", Words::Message("link-gone-lead"))
}

/// `POST /login/link`: "Email me a sign-in link". The answer is the same whether or not the
/// address has an account.
pub(crate) async fn send_link(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let carried = form.get("request").unwrap_or_default().to_owned();
    let raw_email = form.get("email").unwrap_or_default().trim().to_owned();
    let refuse = async |status, message: Words| {
        let prompt = LoginPrompt {
            app_name: app_name(&state, &carried).await,
            carried: carried.clone(),
            email: raw_email.clone(),
            error: Some(message),
        };
        login_page(&state, &request, status, prompt)
    };
    match request_link(&state, &request, &raw_email, &carried).await {
        Ok(page) => page,
        Err(LinkRefusal::BadAddress) => {
            refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                Words::Message("link-needs-address"),
            )
            .await
        }
        Err(LinkRefusal::TooMany { minutes }) => {
            refuse(StatusCode::TOO_MANY_REQUESTS, too_many_links(minutes)).await
        }
        Err(LinkRefusal::Failed(error)) => Err(error),
    }
}

/// `GET /signup`, when self-service sign-up is on: an address, nothing else.
pub(crate) async fn signup_form(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    if !state.config.allow_signup {
        return Err(PageError::not_found());
    }
    signup_page(
        &state,
        &request,
        StatusCode::OK,
        carried_request(&request),
        String::new(),
        None,
    )
}

/// `POST /signup`: mails a link that creates the account when it is used. No account exists
/// before its address is proven, so nobody can hold an address they do not read (account
/// pre-hijacking), and the answer is the same whether or not the address has an account (an
/// existing one gets an ordinary sign-in link). A password can be added from the account page
/// afterwards.
pub(crate) async fn signup(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    if !state.config.allow_signup {
        return Err(PageError::not_found());
    }
    let carried = form.get("request").unwrap_or_default().to_owned();
    let raw_email = form.get("email").unwrap_or_default().trim().to_owned();
    match request_link(&state, &request, &raw_email, &carried).await {
        Ok(page) => page,
        Err(LinkRefusal::BadAddress) => signup_page(
            &state,
            &request,
            StatusCode::UNPROCESSABLE_ENTITY,
            carried,
            raw_email,
            Some(Words::Message("email-invalid")),
        ),
        Err(LinkRefusal::TooMany { minutes }) => signup_page(
            &state,
            &request,
            StatusCode::TOO_MANY_REQUESTS,
            carried,
            raw_email,
            Some(too_many_links(minutes)),
        ),
        Err(LinkRefusal::Failed(error)) => Err(error),
    }
}

fn signup_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    carried: String,
    email: String,
    error: Option<Words>,
) -> Result<HttpResponse, PageError> {
    let token = csrf::token(state, request);
    let t = crate::web::i18n::posted_page(state, request, &carried);
    let page = SignupPage {
        error: error.map(|error| error.in_language(t.locale)),
        t,
        csrf: token.token.clone(),
        request: carried,
        email,
    };
    with_csrf_cookie(pages::render(status, &page)?, token)
}

/// Why no link is on its way.
enum LinkRefusal {
    BadAddress,
    TooMany { minutes: i64 },
    Failed(PageError),
}

impl From<StoreError> for LinkRefusal {
    fn from(error: StoreError) -> Self {
        Self::Failed(error.into())
    }
}

fn too_many_links(minutes: i64) -> Words {
    Words::Count("links-throttled", minutes)
}

/// Counts a link request against its limits and, when the address is one, mails the link
/// after the answer: the answer's timing must not tell whether the address has an account.
/// The page says a link is on its way either way.
async fn request_link(
    state: &AppState,
    request: &HttpRequest,
    raw_email: &str,
    carried: &str,
) -> Result<Result<HttpResponse, PageError>, LinkRefusal> {
    let email = normalize_email(raw_email).map_err(|_| LinkRefusal::BadAddress)?;
    let now = state.clock.now();
    if let Some(wait) = links::count_request(state, &email, &client_ip(request), now).await? {
        return Err(LinkRefusal::TooMany {
            minutes: (wait + 59) / 60,
        });
    }
    let (worker_state, address, worker_carried) =
        (Arc::clone(&state.core), email.clone(), carried.to_owned());
    let page = crate::web::i18n::posted_from(state, request, carried);
    tokio::spawn(async move {
        if let Err(error) = issue_and_mail(&worker_state, address, worker_carried, page, now).await {
            tracing::warn!(%error, "could not send a sign-in link");
        }
    });
    let page = SentPage {
        t: crate::web::i18n::posted_page(state, request, carried),
        email,
        signup: state.config.allow_signup,
        minutes: state.config.sign_in_link_ttl_secs / 60,
        request: carried.to_owned(),
    };
    Ok(pages::render(StatusCode::OK, &page))
}

/// `GET /login/link/continue?token=…`: what the mailed link opens. Looking spends nothing.
pub(crate) async fn confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let token = query_param(&request, "token").unwrap_or_default();
    let (worker_state, lookup) = (state.clone().into_inner(), token.clone());
    let email = state
        .store
        .run(move |conn| links::live_email(conn, &lookup, worker_state.clock.now()))
        .await?
        .ok_or_else(link_gone)?;
    let csrf_token = csrf::token(&state, &request);
    let page = ContinuePage {
        t: crate::web::i18n::page(&state, &request),
        csrf: csrf_token.token.clone(),
        email,
        token,
        passkeys: state.passkeys.is_some(),
    };
    with_csrf_cookie(pages::render(StatusCode::OK, &page)?, csrf_token)
}

/// `POST /login/link/continue`: spends the link and signs in, with the second factor first
/// when the person has one (a link must not skip it).
pub(crate) async fn use_link(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let token = form.get("token").unwrap_or_default().to_owned();
    let worker_state = Arc::clone(&state.core);
    let spent = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            links::spend(conn, &token, worker_state.config.allow_signup, now)
        })
        .await?;
    let Some(LinkSignIn {
        user,
        carried,
        household,
    }) = spent
    else {
        return Err(link_gone());
    };
    if household == Some(Joining::Joined) {
        state.entitlements.invalidate(&user.id);
    }
    // A household invitation's link ends on the account page, saying what it did.
    let carried = household.map_or(carried, |joining| {
        ReturnTo::AccountNotice(crate::web::account::household::joining_notice(&joining).to_owned()).carried()
    });
    after_first_factor(&state, &request, &form, user, &carried, "email").await
}

/// Records a link for `email` when it gets one, and mails it; `page`: the language of the page
/// it was asked for on.
async fn issue_and_mail(
    state: &Arc<Core>,
    email: String,
    carried: String,
    page: Locale,
    now: i64,
) -> Result<(), StoreError> {
    let (worker_state, worker_carried) = (Arc::clone(state), carried.clone());
    let issued = state
        .store
        .run(move |conn| links::issue(&worker_state, conn, &email, &worker_carried, now))
        .await?;
    let Some(link) = issued else {
        return Ok(());
    };
    let app = app_name(state, &carried).await;
    let minutes = state.config.sign_in_link_ttl_secs / 60;
    match crate::foundation::mail::sign_in_link(
        state.mail_voice(link.saved_locale.as_deref(), Some(page)),
        &link.email,
        &link.url,
        minutes,
        app.as_deref(),
        link.creates_account,
    ) {
        Ok(mail) => state.mailer.dispatch(mail),
        Err(error) => tracing::warn!(%error, "could not write the sign-in link mail"),
    }
    Ok(())
}
