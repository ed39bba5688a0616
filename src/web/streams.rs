//! The streams API for content servers: `POST /streams`, `POST /streams/{id}/heartbeat`,
//! `DELETE /streams/{id}` (docs/streams.md). The caller is a client holding `usher:streams`,
//! by HTTP Basic with its secret or a bearer token from client credentials. Errors are the
//! OAuth boundary's JSON errors; a start over the limit is a 409 that lists the streams in use.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::domain::entitlements::cache;
use crate::domain::oauth::client_auth::ClientCredentials;
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::scopes;
use crate::domain::streams::{self, StartOutcome, StartRequest, StopBy};
use crate::domain::tokens::access_tokens;
use crate::foundation::store::streams::Stream;
use crate::foundation::time::rfc3339;
use crate::web::form::{self, Bearer, Form};
use crate::web::state::AppState;

/// The content server behind a request: its client id, once it proved it holds
/// `usher:streams`.
async fn caller(state: &AppState, request: &HttpRequest) -> Result<String, OAuthError> {
    let missing_scope = || {
        OAuthError::new(
            ErrorCode::InsufficientScope,
            "this call needs scope usher:streams",
        )
    };
    if let Bearer::Token(token) = form::bearer(request) {
        let verified = access_tokens::usable(&state.core, token)
            .await
            .map_err(|unusable| OAuthError::new(ErrorCode::InvalidToken, unusable.description()))?;
        let holds_scope = verified
            .claims
            .scope
            .split(' ')
            .any(|scope| scope == scopes::STREAMS);
        return if !verified.person && holds_scope {
            Ok(verified.claims.client_id.clone())
        } else {
            Err(missing_scope())
        };
    }
    let credentials = ClientCredentials {
        authorization: request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.as_bytes()),
        client_id: None,
        client_secret: None,
    };
    let client = state.clients.confidential(&state.store, &credentials).await?;
    if client.allows_scope(scopes::STREAMS) {
        Ok(client.client_id.clone())
    } else {
        Err(missing_scope())
    }
}

#[derive(Deserialize)]
struct StartBody {
    token: Option<String>,
    device_id: Option<String>,
    content: Option<String>,
}

/// A start's parameters, from a JSON or a form body.
fn start_body(request: &HttpRequest, body: &Bytes) -> Result<StartBody, OAuthError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if is_json {
        return serde_json::from_slice(body).map_err(|error| {
            OAuthError::invalid_request(format!("the JSON body is not a start request: {error}"))
        });
    }
    let form = Form::from_urlencoded(
        std::str::from_utf8(body)
            .map_err(|_| OAuthError::invalid_request("the request body is not valid UTF-8"))?,
    )?;
    Ok(StartBody {
        token: form.get("token").map(str::to_owned),
        device_id: form.get("device_id").map(str::to_owned),
        content: form.get("content").map(str::to_owned),
    })
}

#[derive(Serialize)]
struct Started<'a> {
    stream_id: &'a str,
    expires_in: i64,
    heartbeat_interval: i64,
    max_streams: i32,
    active_streams: usize,
}

#[derive(Serialize)]
struct InUse<'a> {
    stream_id: &'a str,
    device_id: &'a str,
    content: Option<&'a str>,
    started_at: String,
}

impl<'a> From<&'a Stream> for InUse<'a> {
    fn from(stream: &'a Stream) -> Self {
        Self {
            stream_id: &stream.id,
            device_id: &stream.device_id,
            content: stream.content.as_deref(),
            started_at: rfc3339::format(stream.started_at),
        }
    }
}

#[derive(Serialize)]
struct Refused<'a> {
    error: &'static str,
    error_description: String,
    max_streams: i32,
    streams: Vec<InUse<'a>>,
}

/// How often a player should beat: a third of the lease, so two lost heartbeats end nothing.
fn heartbeat_interval(lease_secs: i64) -> i64 {
    (lease_secs / 3).max(1)
}

pub(crate) async fn start(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, OAuthError> {
    let client_id = caller(&state, &request).await?;
    let body = start_body(&request, &body)?;
    let token = body
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("token is required: the viewer's access token"))?;
    let viewer = access_tokens::usable(&state.core, token)
        .await
        .ok()
        .filter(|verified| verified.person)
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidToken, "the viewer's access token is not active"))?;
    let viewer_id = viewer.claims.sub.clone();
    let start_request = StartRequest::new(
        &viewer_id,
        &client_id,
        body.device_id.as_deref(),
        body.content.as_deref(),
    )
    .map_err(|invalid| OAuthError::invalid_request(invalid.0))?;
    let entitlements = cache::current(&state.core, &viewer_id).await?;
    let limits = streams::Limits::from(&entitlements.entitlements);
    // A household member playing on the holder's plan counts against the holder's streams.
    let account_id = entitlements.entitlements.stream_account(&viewer_id).to_owned();
    let lease_secs = state.config.stream_lease_secs;
    let queued = streams::Queued {
        account_id,
        request: start_request,
        limits,
    };
    let outcome = streams::queue::start(&state.core, queued).await?;
    Ok(match outcome {
        StartOutcome::Started {
            stream,
            active_streams,
            max_streams,
        } => {
            crate::web::metrics::stream_start("started");
            HttpResponse::Created()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(Started {
                    stream_id: &stream.id,
                    expires_in: lease_secs,
                    heartbeat_interval: heartbeat_interval(lease_secs),
                    max_streams,
                    active_streams,
                })
        }
        StartOutcome::Refused { max_streams, streams } => {
            crate::web::metrics::stream_start("refused");
            HttpResponse::Conflict()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(Refused {
                    error: "too_many_streams",
                    error_description: match max_streams {
                        0 => "this account's plan includes no playback".to_owned(),
                        1 => "this account may play one stream at a time".to_owned(),
                        max => format!("this account may play {max} streams at a time"),
                    },
                    max_streams,
                    streams: streams.iter().map(InUse::from).collect(),
                })
        }
    })
}

#[derive(Serialize)]
struct Alive {
    expires_in: i64,
}

fn stream_over() -> OAuthError {
    OAuthError::new(
        ErrorCode::NotFound,
        "the stream is over: stopped, expired or signed out; stop playing",
    )
}

pub(crate) async fn heartbeat(
    state: web::Data<AppState>,
    request: HttpRequest,
    stream_id: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    let client_id = caller(&state, &request).await?;
    let expires_in = streams::heartbeat(&state.core, &client_id, &stream_id)
        .await?
        .ok_or_else(stream_over)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Alive { expires_in }))
}

/// Stops a stream of any content server of the platform (a player offering "stop watching on
/// the living-room TV" asks its own server); unknown or finished streams are stopped already.
pub(crate) async fn stop(
    state: web::Data<AppState>,
    request: HttpRequest,
    stream_id: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    caller(&state, &request).await?;
    let core = Arc::clone(&state.core);
    let stream_id = stream_id.into_inner();
    state
        .store
        .run(move |conn| {
            let now = core.clock.now();
            streams::stop(conn, &core.streams, StopBy::AnyContentServer, &stream_id, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
