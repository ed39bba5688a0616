//! The authorization request (RFC 6749 §4.1, OIDC Core §3.1.2) as values: checking one, and
//! deciding what it needs next (a sign-in, consent, or its code). The web layer shows the
//! pages and sends the answers.
//!
//! Until the client and its redirect URI are known to match, errors are shown to the person
//! and never redirected (RFC 6749 §4.1.2.1); after that they go back to the app.

use std::sync::Arc;

use crate::domain::core::Core;
use crate::domain::identity::session::SignedIn;
use crate::domain::oauth::clients::GRANT_AUTHORIZATION_CODE;
use crate::domain::oauth::parameters::Parameters;
use crate::domain::oauth::scopes;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::StoreError;
use crate::foundation::store::clients::{self, Client};
use crate::foundation::store::codes::{self, AuthorizationCode};
use crate::foundation::store::consents;

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
    /// The client or redirect URI is not trusted: the person is told why, and nothing is
    /// redirected.
    Untrusted(&'static str),
    /// RFC 6749 §4.1.2.1: the app hears about it at its redirect URI.
    Redirect {
        reply_to: ReplyTo,
        error: &'static str,
        description: String,
    },
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Refusal {
    pub(crate) fn redirect(reply_to: &ReplyTo, error: &'static str, description: impl Into<String>) -> Self {
        Self::Redirect {
            reply_to: reply_to.clone(),
            error,
            description: description.into(),
        }
    }
}

/// What a checked request needs next.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Nobody is signed in, or not recently enough, or the app asked for a new sign-in.
    SignIn,
    /// The person must allow the app first.
    Consent(SignedIn),
    /// Everything is in place: the app gets its code, once a profile is chosen where the
    /// request asks for one ([`AuthorizationRequest::asks_for_profile`]).
    Issue(SignedIn),
}

impl AuthorizationRequest {
    /// Whether the tokens are to speak for one of the account's profiles (scope `profiles`).
    pub(crate) fn asks_for_profile(&self) -> bool {
        self.scopes.iter().any(|scope| scope == scopes::PROFILES)
    }
}

/// Decides what `authorization` needs, given who is signed in.
pub(crate) async fn decide(
    core: &Arc<Core>,
    authorization: &AuthorizationRequest,
    signed_in: Option<SignedIn>,
) -> Result<Decision, Refusal> {
    let reply_to = &authorization.reply_to;
    let now = core.clock.now();
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
        _ => return Ok(Decision::SignIn),
    };
    if authorization.prompt.consent || !has_consent(core, authorization, &signed_in).await? {
        if authorization.prompt.none {
            return Err(Refusal::redirect(
                reply_to,
                "consent_required",
                "the person has not allowed this app yet",
            ));
        }
        return Ok(Decision::Consent(signed_in));
    }
    Ok(Decision::Issue(signed_in))
}

/// Records the person's consent to the request's scopes.
pub(crate) async fn grant_consent(
    core: &Arc<Core>,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<(), StoreError> {
    let (user_id, client_id, scopes, now) = (
        signed_in.user.id.clone(),
        authorization.client.client_id.clone(),
        authorization.scopes.clone(),
        core.clock.now(),
    );
    core.store
        .run(move |conn| consents::grant(conn, &user_id, &client_id, &scopes, now))
        .await
}

/// Whether the person signed in recently enough for the request's `max_age`.
pub(crate) fn is_fresh(authorization: &AuthorizationRequest, signed_in: &SignedIn, now: i64) -> bool {
    authorization
        .max_age
        .is_none_or(|max_age| now - signed_in.session.auth_time <= max_age)
}

/// Whether `signed_in` may have the request's code now, for an answer posted from a page the
/// request led to (the profile picker), whatever its `prompt` asked before: signed in recently
/// enough, and the app allowed.
pub(crate) async fn may_issue(
    core: &Arc<Core>,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<bool, StoreError> {
    Ok(is_fresh(authorization, signed_in, core.clock.now())
        && has_consent(core, authorization, signed_in).await?)
}

/// Whether the app is first-party or the person allowed it every scope asked for.
async fn has_consent(
    core: &Arc<Core>,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
) -> Result<bool, StoreError> {
    if authorization.client.first_party {
        return Ok(true);
    }
    let (user_id, client_id) = (signed_in.user.id.clone(), authorization.client.client_id.clone());
    let granted = core
        .store
        .run(move |conn| consents::granted(conn, &user_id, &client_id))
        .await?;
    Ok(authorization.scopes.iter().all(|scope| granted.contains(scope)))
}

/// Stores a new authorization code for the request and returns it, to send to the app.
/// `profile_id` is the profile chosen ("Who's watching?"), already unlocked.
pub(crate) async fn issue_code(
    core: &Arc<Core>,
    authorization: &AuthorizationRequest,
    signed_in: &SignedIn,
    profile_id: Option<String>,
) -> Result<String, StoreError> {
    let code = random::token::<32>();
    let now = core.clock.now();
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
        expires_at: now + core.config.authorization_code_ttl_secs,
        profile_id,
    };
    core.store.run(move |conn| codes::insert(conn, &record)).await?;
    Ok(code)
}

/// Checks an authorization request, in the order that decides where its errors go.
pub(crate) async fn check(core: &Core, form: &impl Parameters) -> Result<AuthorizationRequest, Refusal> {
    let client_id = form
        .get("client_id")
        .ok_or(Refusal::Untrusted(
            "The app did not say who it is (client_id is missing).",
        ))?
        .to_owned();
    let client = core
        .store
        .run(move |conn| clients::find(conn, &client_id))
        .await?
        .filter(Client::is_enabled)
        .ok_or(Refusal::Untrusted(
            "The app that sent you here is not registered with this server.",
        ))?;
    let redirect_uri = form.get("redirect_uri").ok_or(Refusal::Untrusted(
        "The app did not say where to send you back (redirect_uri is missing).",
    ))?;
    if !client
        .redirect_uris
        .iter()
        .any(|registered| registered == redirect_uri)
    {
        return Err(Refusal::Untrusted(
            "The app asked to send you to an address it has not registered, so this request was stopped.",
        ));
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
    let encoded = form.encoded();
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

/// RFC 7636 with this server's rules (OAuth 2.1): S256 only, required of every client but
/// the confidential ones registered as unable to send it.
fn check_pkce(client: &Client, form: &impl Parameters) -> Result<Option<String>, &'static str> {
    let Some(challenge) = form.get("code_challenge") else {
        if form.get("code_challenge_method").is_some() {
            return Err("code_challenge_method was sent without code_challenge");
        }
        if client.is_public() || !client.pkce_optional {
            return Err("code_challenge is required (PKCE with S256)");
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
