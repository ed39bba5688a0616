//! `/users/{id}/streams`: what plays on a person's account now, and stopping one. Scope
//! `usher:admin`.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;

use crate::domain::streams::{self, StopBy};
use crate::foundation::store::users;
use crate::web::admin_api::auth::AdminCaller;
use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::views::StreamView;
use crate::web::admin_api::{json, no_content};
use crate::web::state::AppState;

/// List a person's streams
///
/// The streams playing on the person's account now (their own and, on a family plan, their
/// members'), oldest first. Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "list_streams",
    path = "/admin/api/v1/users/{id}/streams",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The live streams", body = [StreamView]),
        (status = 404, description = "No such person", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_id.into_inner();
    let now = state.clock.now();
    let playing = state
        .store
        .run(move |conn| {
            users::find_by_id(conn, &user_id)?
                .map(|_| streams::playing(conn, &user_id, now))
                .transpose()
        })
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let views: Vec<StreamView> = playing.iter().map(StreamView::from).collect();
    Ok(json(StatusCode::OK, &views))
}

/// Stop a stream
///
/// Ends one of the person's streams at once, on every instance: the player's next heartbeat is
/// answered 404 and it stops. Audited. Scope: `usher:admin`.
#[utoipa::path(
    delete,
    operation_id = "stop_stream",
    path = "/admin/api/v1/users/{id}/streams/{stream_id}",
    tag = "people",
    params(
        ("id" = String, Path, description = "The person's id"),
        ("stream_id" = String, Path, description = "The stream's id"),
    ),
    responses(
        (status = 204, description = "Stopped"),
        (status = 404, description = "The person has no such stream", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn stop(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let (user_id, stream_id) = path.into_inner();
    let core = Arc::clone(&state.core);
    let actor = caller.actor();
    let stopped = state
        .store
        .run(move |conn| {
            let by = StopBy::Admin {
                actor: &actor,
                user_id: &user_id,
            };
            streams::stop(conn, &core.streams, by, &stream_id, core.clock.now())
        })
        .await?;
    if stopped {
        Ok(no_content())
    } else {
        Err(ApiError::not_found("stream"))
    }
}
