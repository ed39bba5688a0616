//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an app sends the person
//! here to sign out of Usher. The session ends, with every refresh token issued in it.
//!
//! With an `id_token_hint` naming the current session the sign-out happens at once; without
//! one the person confirms, so that a link on another site cannot sign anyone out.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::identity::session;
use crate::foundation::crypto::jwt;
use crate::foundation::store::clients;
use crate::web::csrf;
use crate::web::extractors::PageForm;
use crate::web::form::Form;
use crate::web::login::pages::with_csrf_cookie;
use crate::web::pages::{self, PageError};
use crate::web::session_cookie;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    client_id: String,
    post_logout_redirect_uri: String,
    state: String,
    email: String,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage {
    t: crate::web::i18n::PageText,
}

/// Where to send the person afterwards, once checked against the client's registration.
struct Return {
    uri: String,
    state: Option<String>,
}

/// `GET` and `POST /oauth/logout`.
pub(crate) async fn end_session(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, PageError> {
    let form = if request.method() == actix_web::http::Method::POST {
        Form::parse(&request, &body)?
    } else {
        Form::from_urlencoded(request.query_string())?
    };
    let hint = match form.get("id_token_hint") {
        Some(token) => Some(
            verify_hint(&state, token)
                .await
                .ok_or_else(|| PageError::bad_request_said("logout-unverified"))?,
        ),
        None => None,
    };
    let client_id = match (&hint, form.get("client_id")) {
        (Some(hint), Some(client_id)) if hint.aud != client_id => {
            return Err(PageError::bad_request_said("logout-two-apps"));
        }
        (Some(hint), _) => Some(hint.aud.clone()),
        (None, client_id) => client_id.map(str::to_owned),
    };
    let return_to = match form.get("post_logout_redirect_uri") {
        Some(uri) => Some(checked_return(&state, client_id.clone(), uri, form.get("state")).await?),
        None => None,
    };

    let signed_in = session_cookie::current(&state, &request).await?;
    let Some(signed_in) = signed_in else {
        // This browser has no session (another one signed in, or the cookie is gone): the
        // app's ID token still names the session it wants ended.
        if let Some(sid) = hint.and_then(|hint| hint.sid) {
            end_current(&state, &sid).await?;
        }
        return finish(&state, &request, return_to, false);
    };
    let hint_names_this_session = hint.as_ref().is_some_and(|hint| {
        hint.sub == signed_in.user.id && hint.sid.as_deref().is_none_or(|sid| sid == signed_in.session.sid)
    });
    if hint_names_this_session {
        end_current(&state, &signed_in.session.sid).await?;
        return finish(&state, &request, return_to, true);
    }
    let token = csrf::token(&state, &request);
    let page = ConfirmPage {
        t: crate::web::i18n::page_for(&state, &request, signed_in.user.locale.as_deref()),
        csrf: token.token.clone(),
        client_id: client_id.unwrap_or_default(),
        post_logout_redirect_uri: return_to.as_ref().map(|to| to.uri.clone()).unwrap_or_default(),
        state: return_to.and_then(|to| to.state).unwrap_or_default(),
        email: signed_in.user.email,
    };
    with_csrf_cookie(pages::render(StatusCode::OK, &page)?, token)
}

/// The hint's claims if this server signed it; a key another instance just rotated in is
/// looked up once.
async fn verify_hint(state: &AppState, token: &str) -> Option<jwt::IdTokenHint> {
    let verify = || jwt::verify_id_token_hint(&state.keyring.current(), &state.issuer, token);
    match verify() {
        Err(jwt::Rejection::UnknownKey) if state.core.reload_keys_for_unknown_kid().await => verify().ok(),
        outcome => outcome.ok(),
    }
}

/// `POST /logout`: the person confirmed, on the page above or the account page.
pub(crate) async fn confirm(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    // Checked before the page was shown, and again: the form can be edited.
    let return_to = match form.get("post_logout_redirect_uri") {
        Some(uri) => Some(
            checked_return(
                &state,
                form.get("client_id").map(str::to_owned),
                uri,
                form.get("state"),
            )
            .await?,
        ),
        None => None,
    };
    let signed_in = session_cookie::current(&state, &request).await?;
    if let Some(signed_in) = &signed_in {
        end_current(&state, &signed_in.session.sid).await?;
    }
    finish(&state, &request, return_to, signed_in.is_some())
}

async fn end_current(state: &AppState, sid: &str) -> Result<(), PageError> {
    let (worker_state, sids) = (Arc::clone(&state.core), vec![sid.to_owned()]);
    state
        .store
        .run(move |conn| session::end(&worker_state, conn, &sids, worker_state.clock.now()))
        .await?;
    Ok(())
}

/// The post-logout redirect, if registered exactly for the client the request names (by its
/// `id_token_hint` or `client_id`): without a client there is nothing to check it against.
async fn checked_return(
    state: &AppState,
    client_id: Option<String>,
    uri: &str,
    return_state: Option<&str>,
) -> Result<Return, PageError> {
    let client_id = client_id.ok_or_else(|| PageError::bad_request_said("logout-no-app"))?;
    let registered = state
        .store
        .run(move |conn| clients::find(conn, &client_id))
        .await?
        .filter(|client| client.is_enabled())
        .is_some_and(|client| client.post_logout_redirect_uris.iter().any(|known| known == uri));
    if !registered {
        return Err(PageError::bad_request_said("logout-unregistered"));
    }
    Ok(Return {
        uri: uri.to_owned(),
        state: return_state.map(str::to_owned),
    })
}

fn finish(
    state: &AppState,
    request: &HttpRequest,
    return_to: Option<Return>,
    clear_cookie: bool,
) -> Result<HttpResponse, PageError> {
    let mut response = match return_to {
        Some(return_to) => {
            let mut target = url::Url::parse(&return_to.uri).map_err(|error| PageError::internal(&error))?;
            if let Some(return_state) = &return_to.state {
                target.query_pairs_mut().append_pair("state", return_state);
            }
            pages::see_other(target.as_str())
        }
        None => pages::render(
            StatusCode::OK,
            &SignedOutPage {
                t: crate::web::i18n::page(state, request),
            },
        )?,
    };
    if clear_cookie {
        pages::add_cookie(&mut response, &session_cookie::removal(state))?;
    }
    Ok(response)
}
