//! The admin API under `/admin/api/v1` (docs/admin-api.md): the entitlement catalogue,
//! people's subscriptions and grants, and the audit log, for operators (`usher:admin`) and
//! payment services (`usher:entitlements`). `docs/admin-api.md` describes it for callers;
//! `GET /admin/api/v1/openapi.json` is generated from the handlers here.
//!
//! Handlers are short: authorize, read the input, run one service function of
//! `entitlements::manage` on the blocking pool, drop this instance's cached entitlements when
//! something changed (the change feed tells the other instances), answer.

mod audit;
mod auth;
mod error;
mod households;
mod input;
mod openapi;
mod products;
mod profiles;
mod streams;
mod tiers;
mod users;
mod views;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};
use serde::Serialize;

use crate::web::paths;

pub(crate) use error::ApiError;

/// The admin API's routes.
pub(crate) fn routes(config: &mut web::ServiceConfig) {
    config
        .service(get(
            resource("/openapi.json", "openapi", "GET, HEAD"),
            openapi::document,
        ))
        .service(
            get(resource("/tiers", "tiers", "GET, HEAD, POST"), tiers::list)
                .route(web::post().to(tiers::create)),
        )
        .service(
            get(
                resource("/tiers/{slug}", "tier", "GET, HEAD, PUT, DELETE"),
                tiers::show,
            )
            .route(web::put().to(tiers::update))
            .route(web::delete().to(tiers::delete)),
        )
        .service(
            get(
                resource("/products", "products", "GET, HEAD, POST"),
                products::list,
            )
            .route(web::post().to(products::create)),
        )
        .service(
            get(
                resource("/products/{slug}", "product", "GET, HEAD, PUT, DELETE"),
                products::show,
            )
            .route(web::put().to(products::update))
            .route(web::delete().to(products::delete)),
        )
        .service(get(resource("/users", "users", "GET, HEAD"), users::find))
        .service(get(resource("/users/{id}", "user", "GET, HEAD"), users::show))
        .service(
            resource("/users/{id}/subscription", "subscription", "PUT, DELETE")
                .route(web::put().to(users::put_subscription))
                .route(web::delete().to(users::end_subscription)),
        )
        .service(resource("/users/{id}/grants", "grants", "POST").route(web::post().to(users::grant)))
        .service(
            resource("/users/{id}/grants/{grant_id}", "grant", "DELETE")
                .route(web::delete().to(users::revoke_grant)),
        )
        .service(get(
            resource("/users/{id}/entitlements", "entitlements", "GET, HEAD"),
            users::entitlements,
        ))
        .service(
            get(
                resource("/users/{id}/profiles", "profiles", "GET, HEAD, POST"),
                profiles::list,
            )
            .route(web::post().to(profiles::create)),
        )
        .service(
            resource("/users/{id}/profiles/{profile_id}", "profile", "PUT, DELETE")
                .route(web::put().to(profiles::update))
                .route(web::delete().to(profiles::delete)),
        )
        .service(get(
            resource("/users/{id}/household", "household", "GET, HEAD"),
            households::show,
        ))
        .service(
            resource(
                "/users/{id}/household/members/{member_id}",
                "household_member",
                "DELETE",
            )
            .route(web::delete().to(households::remove_member)),
        )
        .service(get(
            resource("/users/{id}/streams", "streams", "GET, HEAD"),
            streams::list,
        ))
        .service(
            resource("/users/{id}/streams/{stream_id}", "stream", "DELETE")
                .route(web::delete().to(streams::stop)),
        )
        .service(get(resource("/audit", "audit", "GET, HEAD"), audit::list));
}

/// A resource of the API; methods it does not route get a JSON 405 naming the ones it does.
/// Named `admin_api_*` for metrics and `url_for`.
fn resource(path: &str, name: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(format!("{}{path}", paths::ADMIN_API))
        .name(&format!("admin_api_{name}"))
        .default_service(web::to(move || {
            std::future::ready(Err::<HttpResponse, _>(ApiError::method_not_allowed(allow)))
        }))
}

/// Routes `GET` and `HEAD` to `handler`.
fn get<F, Args>(resource: actix_web::Resource, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}

/// A JSON answer. Never cached: it is about people and changes at any moment.
fn json(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}

/// 204 after a deletion.
fn no_content() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish()
}
