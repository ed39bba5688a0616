//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): the domain checks the
//! request and decides what it needs (`domain::oauth::authorize`); this shows the login or
//! consent page, or sends the app its code or error.
//!
//! The request travels through the login and consent pages as its own form-encoded
//! parameters and is checked again each time: pages keep no server-side state of their own.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::identity::session::SignedIn;
use crate::domain::oauth::authorize::{self, AuthorizationRequest, Decision, Refusal, ReplyTo, ResponseMode};
use crate::domain::oauth::metadata::AUTHORIZATION_PATH;
use crate::domain::oauth::parameters::Parameters;
use crate::domain::oauth::scopes;
use crate::domain::profiles::{self, Needed};
use crate::foundation::crypto::random;
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::Form;
use crate::web::login::pages::{LoginPrompt, login_page, with_csrf_cookie};
use crate::web::oauth::profile_picker::{self, ChoiceForm};
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::return_to::ReturnTo;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// The answer to a refused request: a page for the person, or an error sent to the app.
fn refused(state: &AppState, request: &HttpRequest, refusal: Refusal) -> Result<HttpResponse, PageError> {
    match refusal {
        Refusal::Untrusted(message) => Err(PageError::bad_request(message)),
        Refusal::Store(error) => Err(error.into()),
        Refusal::Redirect {
            reply_to,
            error,
            description,
        } => reply(
            state,
            request,
            &reply_to,
            &[("error", error), ("error_description", &description)],
        ),
    }
}

/// `GET` and `POST /oauth/authorize`.
pub(crate) async fn authorize(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, PageError> {
    let posted = request.method() == actix_web::http::Method::POST;
    let form = if posted {
        Form::parse(&request, &body)
    } else {
        Form::from_urlencoded(request.query_string())
    }?;
    let authorization = match authorize::check(&state, &form).await {
        Ok(authorization) => authorization,
        Err(refusal) => return refused(&state, &request, refusal),
    };
    if posted {
        // Browsers withhold SameSite=Lax cookies from a cross-site POST, so the session is
        // only visible on a GET: once the request is known good, it continues as one.
        return Ok(pages::see_other(&format!(
            "{AUTHORIZATION_PATH}?{}",
            authorization.encoded
        )));
    }
    let signed_in = session_cookie::current(&state, &request).await?;
    match authorize::decide(&state.core, &authorization, signed_in).await {
        Ok(Decision::SignIn) => {
            let prompt = LoginPrompt {
                app_name: Some(authorization.client.name.clone()),
                carried: authorization.encoded.clone(),
                email: authorization.login_hint.clone().unwrap_or_default(),
                error: None,
            };
            login_page(&state, &request, StatusCode::OK, prompt)
        }
        Ok(Decision::Consent(signed_in)) => consent_page(&state, &request, &authorization, &signed_in),
        Ok(Decision::Issue(signed_in)) => {
            continue_to_code(&state, &request, &authorization, &signed_in).await
        }
        Err(refusal) => refused(&state, &request, refusal),
    }
}

/// Sends the app its code, once a profile is chosen where the request asks for one: with
/// several profiles (or one behind a PIN), the person chooses on "Who's watching?" first.
async fn continue_to_code(
    state: &AppState,
    request: &HttpRequest,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<HttpResponse, PageError> {
    if !authorization.asks_for_profile() {
        return send_code(state, request, authorization, signed_in, None).await;
    }
    match profiles::needed(state, &signed_in.user.id).await? {
        Needed::Nothing => send_code(state, request, authorization, signed_in, None).await,
        Needed::Only(profile) => send_code(state, request, authorization, signed_in, Some(profile.id)).await,
        Needed::Choice(_) if authorization.prompt.none => refused(
            state,
            request,
            Refusal::redirect(
                &authorization.reply_to,
                "interaction_required",
                "the person must choose who is watching",
            ),
        ),
        Needed::Choice(choices) => profile_picker::picker(
            state,
            request,
            profile_choice(authorization, signed_in),
            &choices,
            StatusCode::OK,
            None,
        ),
    }
}

/// The picker's form: the request and the session that saw it travel with the choice.
fn profile_choice(authorization: &AuthorizationRequest, signed_in: &SignedIn) -> ChoiceForm {
    ChoiceForm {
        action: paths::CHOOSE_PROFILE,
        carried: vec![
            ("request", authorization.encoded.clone()),
            ("session", signed_in.session.sid.clone()),
        ],
        back: format!("{AUTHORIZATION_PATH}?{}", authorization.encoded),
    }
}

/// Issues the code, for the profile chosen, and sends it to the app.
async fn send_code(
    state: &AppState,
    request: &HttpRequest,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
    profile_id: Option<String>,
) -> Result<HttpResponse, PageError> {
    let code = authorize::issue_code(&state.core, authorization, signed_in, profile_id).await?;
    reply(state, request, &authorization.reply_to, &[("code", &code)])
}

/// `POST /oauth/profile`: the person's choice on "Who's watching?", with the PIN where the
/// profile has one. The request is checked and decided again: only a sign-in that may have its
/// code now gets one.
pub(crate) async fn choose_profile(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let request_form = Form::from_urlencoded(form.get("request").unwrap_or_default())?;
    let authorization = match authorize::check(&state, &request_form).await {
        Ok(authorization) => authorization,
        Err(refusal) => return refused(&state, &request, refusal),
    };
    let start_over = || pages::see_other(&format!("{AUTHORIZATION_PATH}?{}", authorization.encoded));
    let signed_in = session_cookie::current(&state, &request)
        .await?
        .filter(|signed_in| form.get("session") == Some(signed_in.session.sid.as_str()));
    let Some(signed_in) = signed_in else {
        return Ok(start_over());
    };
    if !authorization.asks_for_profile()
        || !authorize::may_issue(&state.core, &authorization, &signed_in).await?
    {
        return Ok(start_over());
    }
    let profile_id = form.require("profile")?;
    match profiles::unlock(&state.core, &signed_in.user.id, profile_id, form.get("pin")).await? {
        Ok(profile) => send_code(&state, &request, &authorization, &signed_in, Some(profile.id)).await,
        Err(locked) => {
            let choice = profile_choice(&authorization, &signed_in);
            profile_picker::locked(&state, &request, choice, &signed_in.user.id, locked).await
        }
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    app_name: String,
    app_logo: Option<String>,
    /// The session that saw the page: the answer must come from it.
    session: String,
    email: String,
    /// What the app may do, as message ids.
    permissions: Vec<&'static str>,
    csrf: String,
    request: String,
}

/// The message saying what a scope lets the app do, in plain words.
pub(crate) fn describe_scope(scope: &str) -> Option<&'static str> {
    match scope {
        scopes::OPENID => Some("scope-openid"),
        scopes::PROFILE => Some("scope-profile"),
        scopes::EMAIL => Some("scope-email"),
        scopes::OFFLINE_ACCESS => Some("scope-offline-access"),
        scopes::ENTITLEMENTS => Some("scope-entitlements"),
        scopes::PROFILES => Some("scope-profiles"),
        _ => None,
    }
}

fn consent_page(
    state: &AppState,
    request: &HttpRequest,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<HttpResponse, PageError> {
    let csrf = csrf::token(state, request);
    let page = ConsentPage {
        t: crate::web::i18n::page_for(state, request, signed_in.user.locale.as_deref()),
        app_name: authorization.client.name.clone(),
        app_logo: authorization.client.trusted_logo().map(str::to_owned),
        session: signed_in.session.sid.clone(),
        email: signed_in.user.email.clone(),
        permissions: authorization
            .scopes
            .iter()
            .filter_map(|scope| describe_scope(scope))
            .collect(),
        csrf: csrf.token.clone(),
        request: authorization.encoded.clone(),
    };
    let mut response = pages::render(StatusCode::OK, &page)?;
    pages::allow_image(&mut response, page.app_logo.as_deref());
    with_csrf_cookie(response, csrf)
}

/// `POST /oauth/consent`: the person's answer on the consent page.
pub(crate) async fn consent(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let encoded = form.get("request").unwrap_or_default();
    let allowed = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(PageError::bad_request_said("choose-allow-or-deny")),
    };
    let request_form = Form::from_urlencoded(encoded)?;
    let authorization = match authorize::check(&state, &request_form).await {
        Ok(authorization) => authorization,
        Err(refusal) => return refused(&state, &request, refusal),
    };
    {
        let signed_in = session_cookie::current(&state, &request).await?;
        // The answer must come from the sign-in that saw the page, still fresh enough: a
        // session that ended, or another person signing in from a second tab, starts over.
        let Some(signed_in) = signed_in.filter(|signed_in| {
            form.get("session") == Some(signed_in.session.sid.as_str())
                && authorize::is_fresh(&authorization, signed_in, state.clock.now())
        }) else {
            return Ok(pages::see_other(
                &ReturnTo::parse(&authorization.encoded).location(false),
            ));
        };
        if !allowed {
            let denied = Refusal::redirect(
                &authorization.reply_to,
                "access_denied",
                "the person denied the request",
            );
            return refused(&state, &request, denied);
        }
        authorize::grant_consent(&state.core, &authorization, &signed_in).await?;
        continue_to_code(&state, &request, &authorization, &signed_in).await
    }
}

/// Sends parameters to the app's redirect URI, with `state` and RFC 9207's `iss`.
fn reply(
    state: &AppState,
    request: &HttpRequest,
    reply_to: &ReplyTo,
    params: &[(&str, &str)],
) -> Result<HttpResponse, PageError> {
    let mut fields: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    if let Some(app_state) = &reply_to.state {
        fields.push(("state".into(), app_state.clone()));
    }
    fields.push(("iss".into(), state.issuer.clone()));
    match reply_to.mode {
        ResponseMode::Query => {
            let mut target =
                url::Url::parse(&reply_to.redirect_uri).map_err(|error| PageError::internal(&error))?;
            target.query_pairs_mut().extend_pairs(&fields);
            Ok(pages::see_other(target.as_str()))
        }
        ResponseMode::FormPost => form_post(
            crate::web::i18n::page(state, request),
            &reply_to.redirect_uri,
            fields,
        ),
    }
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage {
    /// The page's language, for the words shown without JavaScript.
    pub t: crate::web::i18n::PageText,
    action: String,
    fields: Vec<(String, String)>,
    nonce: String,
}

/// OAuth 2.0 Form Post Response Mode: a page that posts the answer to the app at once.
fn form_post(
    t: crate::web::i18n::PageText,
    action: &str,
    fields: Vec<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let nonce = random::token::<16>();
    let page = FormPostPage {
        t,
        action: action.to_owned(),
        fields,
        nonce: nonce.clone(),
    };
    let policy =
        format!("default-src 'none'; script-src 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'");
    Ok(pages::page_builder(StatusCode::OK)
        .insert_header((actix_web::http::header::CONTENT_SECURITY_POLICY, policy))
        .body(page.render().map_err(PageError::from)?))
}
