//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): checks the request, signs
//! the person in or reuses their session, asks for consent where needed, and sends the app
//! an authorization code.
//!
//! Until the client and its redirect URI are known to match, errors are shown to the person
//! and never redirected (RFC 6749 §4.1.2.1); after that they go back to the app. The request
//! travels through the login and consent pages as its own form-encoded parameters and is
//! checked again each time: pages keep no server-side state of their own.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use url::form_urlencoded;

use crate::domain::identity::session::SignedIn;
use crate::domain::oauth::clients::GRANT_AUTHORIZATION_CODE;
use crate::domain::oauth::metadata::AUTHORIZATION_PATH;
use crate::domain::oauth::scopes;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::clients::{self, Client};
use crate::foundation::store::codes::{self, AuthorizationCode};
use crate::foundation::store::consents;
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::Form;
use crate::web::login::pages::{LoginPrompt, login_page, with_csrf_cookie};
use crate::web::pages::{self, PageError};
use crate::web::return_to::ReturnTo;
use crate::web::session_cookie;
use crate::web::state::AppState;

/// Longest `state` or `nonce` accepted; they come back in URLs and tokens.
const MAX_ECHOED_VALUE: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    Query,
    FormPost,
}

/// Where and how the answer goes: known good once the redirect URI matched the client.
#[derive(Clone, Debug)]
pub(crate) struct ReplyTo {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// OIDC Core §3.1.2.1 `prompt`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A checked authorization request.
#[derive(Clone, Debug)]
pub(crate) struct AuthorizationRequest {
    pub client: Client,
    pub reply_to: ReplyTo,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The request's own parameters, form-encoded, for the login and consent forms.
    pub encoded: String,
}

/// Why a request cannot proceed.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The client or redirect URI is not trusted: the person sees a page.
    Page(PageError),
    /// RFC 6749 §4.1.2.1: the app hears about it at its redirect URI.
    Redirect {
        reply_to: ReplyTo,
        error: &'static str,
        description: String,
    },
}

impl From<PageError> for Refusal {
    fn from(error: PageError) -> Self {
        Self::Page(error)
    }
}

impl From<crate::foundation::store::StoreError> for Refusal {
    fn from(error: crate::foundation::store::StoreError) -> Self {
        Self::Page(error.into())
    }
}

impl Refusal {
    fn redirect(reply_to: &ReplyTo, error: &'static str, description: impl Into<String>) -> Self {
        Self::Redirect {
            reply_to: reply_to.clone(),
            error,
            description: description.into(),
        }
    }

    pub(crate) fn into_response(self, issuer: &str) -> Result<HttpResponse, PageError> {
        match self {
            Self::Page(error) => Err(error),
            Self::Redirect {
                reply_to,
                error,
                description,
            } => reply(
                issuer,
                &reply_to,
                &[("error", error), ("error_description", &description)],
            ),
        }
    }
}

/// `GET` and `POST /oauth/authorize`.
pub(crate) async fn authorize(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, PageError> {
    let state = state.into_inner();
    let posted = request.method() == actix_web::http::Method::POST;
    let form = if posted {
        Form::parse(&request, &body)
    } else {
        Form::from_urlencoded(request.query_string())
    }?;
    let outcome = if posted {
        // Browsers withhold SameSite=Lax cookies from a cross-site POST, so the session is
        // only visible on a GET: once the request is known good, it continues as one.
        check(&state, &form)
            .await
            .map(|authorization| pages::see_other(&format!("{AUTHORIZATION_PATH}?{}", authorization.encoded)))
    } else {
        proceed(&state, &request, &form).await
    };
    match outcome {
        Ok(response) => Ok(response),
        Err(refusal) => refusal.into_response(&state.issuer),
    }
}

async fn proceed(
    state: &Arc<AppState>,
    request: &HttpRequest,
    form: &Form<'_>,
) -> Result<HttpResponse, Refusal> {
    let authorization = check(state, form).await?;
    let signed_in = session_cookie::current(state, request).await?;
    decide(state, request, &authorization, signed_in).await
}

/// What the request needs next: the login page, the consent page, or its code.
async fn decide(
    state: &Arc<AppState>,
    request: &HttpRequest,
    authorization: &AuthorizationRequest,
    signed_in: Option<SignedIn>,
) -> Result<HttpResponse, Refusal> {
    let reply_to = &authorization.reply_to;
    let now = state.clock.now();
    let signed_in = match signed_in {
        Some(signed_in)
            if is_fresh(authorization, &signed_in, now)
                && !authorization.prompt.login
                && !authorization.prompt.select_account =>
        {
            signed_in
        }
        _ if authorization.prompt.none => {
            return Err(Refusal::redirect(
                reply_to,
                "login_required",
                "the person is not signed in",
            ));
        }
        _ => {
            let prompt = LoginPrompt {
                app_name: Some(authorization.client.name.clone()),
                carried: authorization.encoded.clone(),
                email: authorization.login_hint.clone().unwrap_or_default(),
                error: None,
            };
            return Ok(login_page(state, request, StatusCode::OK, prompt)?);
        }
    };
    if needs_consent(state, authorization, &signed_in).await? {
        if authorization.prompt.none {
            return Err(Refusal::redirect(
                reply_to,
                "consent_required",
                "the person has not allowed this app yet",
            ));
        }
        return Ok(consent_page(state, request, authorization, &signed_in)?);
    }
    Ok(issue_code(state, authorization, &signed_in).await?)
}

/// Whether the person signed in recently enough for the request's `max_age`.
fn is_fresh(authorization: &AuthorizationRequest, signed_in: &SignedIn, now: i64) -> bool {
    authorization
        .max_age
        .is_none_or(|max_age| now - signed_in.session.auth_time <= max_age)
}

async fn needs_consent(
    state: &Arc<AppState>,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<bool, PageError> {
    if authorization.prompt.consent {
        return Ok(true);
    }
    if authorization.client.first_party {
        return Ok(false);
    }
    let (user_id, client_id) = (signed_in.user.id.clone(), authorization.client.client_id.clone());
    let granted = state
        .store
        .run(move |conn| consents::granted(conn, &user_id, &client_id))
        .await?;
    Ok(authorization.scopes.iter().any(|scope| !granted.contains(scope)))
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    app_name: String,
    /// The session that saw the page: the answer must come from it.
    session: String,
    email: String,
    permissions: Vec<&'static str>,
    csrf: String,
    request: String,
}

/// What each scope lets the app do, in plain words.
pub(crate) fn describe_scope(scope: &str) -> Option<&'static str> {
    match scope {
        scopes::OPENID => Some("Know who you are when you sign in"),
        scopes::PROFILE => Some("See your name"),
        scopes::EMAIL => Some("See your email address"),
        scopes::OFFLINE_ACCESS => Some("Stay signed in when you are not using it"),
        scopes::ENTITLEMENTS => Some("See your subscription and what you may watch or listen to"),
        _ => None,
    }
}

fn consent_page(
    state: &AppState,
    request: &HttpRequest,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<HttpResponse, PageError> {
    let csrf = csrf::token(request, state.secure_cookies);
    let page = ConsentPage {
        app_name: authorization.client.name.clone(),
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
    with_csrf_cookie(pages::render(StatusCode::OK, &page)?, csrf)
}

/// `POST /oauth/consent`: the person's answer on the consent page.
pub(crate) async fn consent(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let state = state.into_inner();
    let encoded = form.get("request").unwrap_or_default();
    let allowed = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(PageError::bad_request("Choose Allow or Deny.")),
    };
    let outcome = async {
        let request_form = Form::from_urlencoded(encoded).map_err(PageError::from)?;
        let authorization = check(&state, &request_form).await?;
        let signed_in = session_cookie::current(&state, &request).await?;
        // The answer must come from the sign-in that saw the page, still fresh enough: a
        // session that ended, or another person signing in from a second tab, starts over.
        let Some(signed_in) = signed_in.filter(|signed_in| {
            form.get("session") == Some(signed_in.session.sid.as_str())
                && is_fresh(&authorization, signed_in, state.clock.now())
        }) else {
            return Ok(pages::see_other(
                &ReturnTo::parse(&authorization.encoded).location(false),
            ));
        };
        if !allowed {
            return Err(Refusal::redirect(
                &authorization.reply_to,
                "access_denied",
                "the person denied the request",
            ));
        }
        let (user_id, client_id, scopes, now) = (
            signed_in.user.id.clone(),
            authorization.client.client_id.clone(),
            authorization.scopes.clone(),
            state.clock.now(),
        );
        state
            .store
            .run(move |conn| consents::grant(conn, &user_id, &client_id, &scopes, now))
            .await?;
        Ok(issue_code(&state, &authorization, &signed_in).await?)
    };
    match outcome.await {
        Ok(response) => Ok(response),
        Err(refusal) => refusal.into_response(&state.issuer),
    }
}

async fn issue_code(
    state: &Arc<AppState>,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<HttpResponse, PageError> {
    let code = random::token::<32>();
    let now = state.clock.now();
    let record = AuthorizationCode {
        code_hash: hashing::sha256_hex(code.as_bytes()),
        client_id: authorization.client.client_id.clone(),
        user_id: signed_in.user.id.clone(),
        sid: signed_in.session.sid.clone(),
        redirect_uri: authorization.reply_to.redirect_uri.clone(),
        scope: authorization.scopes.join(" "),
        nonce: authorization.nonce.clone(),
        code_challenge: authorization.code_challenge.clone(),
        auth_time: signed_in.session.auth_time,
        amr: signed_in.session.amr.clone(),
        created_at: now,
        expires_at: now + state.config.authorization_code_ttl_secs,
    };
    state.store.run(move |conn| codes::insert(conn, &record)).await?;
    reply(&state.issuer, &authorization.reply_to, &[("code", &code)])
}

/// Sends parameters to the app's redirect URI, with `state` and RFC 9207's `iss`.
fn reply(issuer: &str, reply_to: &ReplyTo, params: &[(&str, &str)]) -> Result<HttpResponse, PageError> {
    let mut fields: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    if let Some(state) = &reply_to.state {
        fields.push(("state".into(), state.clone()));
    }
    fields.push(("iss".into(), issuer.to_owned()));
    match reply_to.mode {
        ResponseMode::Query => {
            let mut target =
                url::Url::parse(&reply_to.redirect_uri).map_err(|error| PageError::internal(&error))?;
            target.query_pairs_mut().extend_pairs(&fields);
            Ok(pages::see_other(target.as_str()))
        }
        ResponseMode::FormPost => form_post(&reply_to.redirect_uri, fields),
    }
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage {
    action: String,
    fields: Vec<(String, String)>,
    nonce: String,
}

/// OAuth 2.0 Form Post Response Mode: a page that posts the answer to the app at once.
fn form_post(action: &str, fields: Vec<(String, String)>) -> Result<HttpResponse, PageError> {
    let nonce = random::token::<16>();
    let page = FormPostPage {
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

/// Checks an authorization request, in the order that decides where its errors go.
pub(crate) async fn check(state: &AppState, form: &Form<'_>) -> Result<AuthorizationRequest, Refusal> {
    let client_id = form
        .get("client_id")
        .ok_or_else(|| PageError::bad_request("The app did not say who it is (client_id is missing)."))?
        .to_owned();
    let client = state
        .store
        .run(move |conn| clients::find(conn, &client_id))
        .await?
        .filter(Client::is_enabled)
        .ok_or_else(|| {
            PageError::bad_request("The app that sent you here is not registered with this server.")
        })?;
    let redirect_uri = form.get("redirect_uri").ok_or_else(|| {
        PageError::bad_request("The app did not say where to send you back (redirect_uri is missing).")
    })?;
    if !client
        .redirect_uris
        .iter()
        .any(|registered| registered == redirect_uri)
    {
        return Err(PageError::bad_request(
            "The app asked to send you to an address it has not registered, so this request was stopped.",
        )
        .into());
    }
    let mut reply_to = ReplyTo {
        redirect_uri: redirect_uri.to_owned(),
        mode: ResponseMode::Query,
        state: form.get("state").map(str::to_owned),
    };
    reply_to.mode = match form.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => {
            return Err(Refusal::redirect(
                &reply_to,
                "invalid_request",
                "response_mode must be query or form_post",
            ));
        }
    };
    if reply_to
        .state
        .as_ref()
        .is_some_and(|state| state.len() > MAX_ECHOED_VALUE)
    {
        // Not echoed: an oversized value is exactly what must not travel on.
        reply_to.state = None;
        return Err(Refusal::redirect(
            &reply_to,
            "invalid_request",
            "state is too long",
        ));
    }
    let invalid = |description: &str| Refusal::redirect(&reply_to, "invalid_request", description);
    match form.get("response_type") {
        Some("code") => {}
        None => return Err(invalid("response_type is required")),
        Some(_) => {
            return Err(Refusal::redirect(
                &reply_to,
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if !client.allows_grant(GRANT_AUTHORIZATION_CODE) {
        return Err(Refusal::redirect(
            &reply_to,
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    if form.get("request").is_some() {
        return Err(Refusal::redirect(
            &reply_to,
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if form.get("request_uri").is_some() {
        return Err(Refusal::redirect(
            &reply_to,
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    let scopes = check_scopes(&client, form.get("scope"))
        .map_err(|description| Refusal::redirect(&reply_to, "invalid_scope", description))?;
    let code_challenge = check_pkce(&client, form).map_err(invalid)?;
    let prompt = parse_prompt(form.get("prompt")).map_err(invalid)?;
    let max_age = form
        .get("max_age")
        .map(|text| text.parse::<i64>().ok().filter(|age| *age >= 0))
        .map(|age| age.ok_or_else(|| invalid("max_age must be a non-negative number of seconds")))
        .transpose()?;
    let nonce = form.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|nonce| nonce.len() > MAX_ECHOED_VALUE) {
        return Err(invalid("nonce is too long"));
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.pairs())
        .finish();
    Ok(AuthorizationRequest {
        client,
        reply_to,
        scopes,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: form.get("login_hint").map(str::to_owned),
        encoded,
    })
}

/// The scopes asked for, each one a person can grant and the client may ask for.
fn check_scopes(client: &Client, scope: Option<&str>) -> Result<Vec<String>, String> {
    let requested =
        scopes::parse(scope.unwrap_or_default()).map_err(|error| error.description.into_owned())?;
    if requested.is_empty() {
        return Err("scope is required".into());
    }
    if let Some(refused) = requested
        .iter()
        .find(|scope| !scopes::USER_SCOPES.contains(&scope.as_str()) || !client.allows_scope(scope))
    {
        return Err(format!("scope {refused} is not available to this client"));
    }
    Ok(requested)
}

/// RFC 7636 with this server's rules: S256 only, required for public clients.
fn check_pkce(client: &Client, form: &Form<'_>) -> Result<Option<String>, &'static str> {
    let Some(challenge) = form.get("code_challenge") else {
        if form.get("code_challenge_method").is_some() {
            return Err("code_challenge_method was sent without code_challenge");
        }
        if client.is_public() {
            return Err("code_challenge is required for public clients (PKCE with S256)");
        }
        return Ok(None);
    };
    match form.get("code_challenge_method") {
        Some("S256") => {}
        None | Some("plain") => return Err("code_challenge_method must be S256; plain is not accepted"),
        Some(_) => return Err("code_challenge_method must be S256"),
    }
    if !random::is_base64url_of_32_bytes(challenge) {
        return Err("code_challenge must be the base64url SHA-256 of the verifier (43 characters)");
    }
    Ok(Some(challenge.to_owned()))
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, &'static str> {
    let mut parsed = Prompt::default();
    for value in prompt
        .unwrap_or_default()
        .split(' ')
        .filter(|value| !value.is_empty())
    {
        match value {
            "none" => parsed.none = true,
            "login" => parsed.login = true,
            "consent" => parsed.consent = true,
            "select_account" => parsed.select_account = true,
            _ => return Err("prompt may only contain none, login, consent and select_account"),
        }
    }
    if parsed.none && (parsed.login || parsed.consent || parsed.select_account) {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_none_stands_alone() {
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("bogus")).is_err());
        assert_eq!(
            parse_prompt(Some("login consent")),
            Ok(Prompt {
                login: true,
                consent: true,
                ..Prompt::default()
            })
        );
    }
}
