//! `/tiers` and `/tiers/{slug}`: subscription tiers. Scope `usher:admin`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{self, Bytes};

use crate::domain::entitlements::manage::{self, TierInput};
use crate::foundation::store::entitlements as store;
use crate::web::admin_api::auth::AdminCaller;
use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::input::Fields;
use crate::web::admin_api::views::{TierBody, TierView};
use crate::web::admin_api::{json, no_content};
use crate::web::paths;
use crate::web::state::AppState;

fn input(fields: &Fields) -> Result<TierInput, ApiError> {
    Ok(TierInput {
        name: fields.required("name", "a string")?,
        rank: fields.required("rank", "an integer")?,
        features: fields
            .optional("features", "an array of strings")?
            .unwrap_or_default(),
        max_streams: fields.required("max_streams", "an integer")?,
        stream_limit_policy: fields.optional("stream_limit_policy", "refuse or end_oldest")?,
        max_devices: fields.optional("max_devices", "an integer")?,
        max_profiles: fields.optional("max_profiles", "an integer")?,
        max_members: fields.optional("max_members", "an integer")?.unwrap_or_default(),
    })
}

/// The slug of `PUT`: the path's; one in the body must agree, since a slug cannot change.
pub(super) fn path_slug(fields: &Fields, slug: String) -> Result<String, ApiError> {
    match fields.optional::<String>("slug", "a string")? {
        Some(sent) if sent != slug => Err(ApiError::invalid("slug", "does not match the path")),
        _ => Ok(slug),
    }
}

/// List tiers
///
/// Every tier, lowest rank first. Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "list_tiers",
    path = "/admin/api/v1/tiers",
    tag = "tiers",
    responses((status = 200, description = "Every tier, lowest rank first", body = [TierView])),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let tiers = state.store.run(store::list_tiers).await?;
    Ok(json(
        StatusCode::OK,
        &tiers.iter().map(TierView::from).collect::<Vec<_>>(),
    ))
}

/// Create a tier
///
/// Scope: `usher:admin`.
#[utoipa::path(
    post,
    operation_id = "create_tier",
    path = "/admin/api/v1/tiers",
    tag = "tiers",
    request_body = TierBody,
    responses(
        (status = 201, description = "Created", body = TierView,
            headers(("Location" = String, description = "The tier's address"))),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 409, description = "A tier with this slug exists", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong; the description names it", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    body: Result<Bytes, actix_web::Error>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let fields = Fields::parse(body)?;
    let slug: String = fields.required("slug", "a string")?;
    let input = input(&fields)?;
    let now = state.clock.now();
    let tier = state
        .store
        .run(move |conn| manage::create_tier(conn, &actor, &slug, &input, now))
        .await?;
    let mut response = json(StatusCode::CREATED, &TierView::from(&tier));
    if let Ok(location) = header::HeaderValue::from_str(&format!("{}/tiers/{}", paths::ADMIN_API, tier.slug))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Show a tier
///
/// Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "show_tier",
    path = "/admin/api/v1/tiers/{slug}",
    tag = "tiers",
    params(("slug" = String, Path, description = "The tier's slug")),
    responses(
        (status = 200, description = "The tier", body = TierView),
        (status = 404, description = "No such tier", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn show(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let tier = state
        .store
        .run(move |conn| store::find_tier(conn, &slug))
        .await?
        .ok_or_else(|| ApiError::not_found("tier"))?;
    Ok(json(StatusCode::OK, &TierView::from(&tier)))
}

/// Change a tier
///
/// Replaces the tier's description; `features` absent means none. The people subscribed to
/// it see the change at once. Scope: `usher:admin`.
#[utoipa::path(
    put,
    operation_id = "update_tier",
    path = "/admin/api/v1/tiers/{slug}",
    tag = "tiers",
    params(("slug" = String, Path, description = "The tier's slug")),
    request_body = TierBody,
    responses(
        (status = 200, description = "The tier as it is now", body = TierView),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 404, description = "No such tier", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong; the description names it", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn update(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: Result<Bytes, actix_web::Error>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let fields = Fields::parse(body)?;
    let slug = path_slug(&fields, slug.into_inner())?;
    let input = input(&fields)?;
    let now = state.clock.now();
    let tier = state
        .store
        .run(move |conn| manage::update_tier(conn, &actor, &slug, &input, now))
        .await?;
    state.entitlements.clear();
    Ok(json(StatusCode::OK, &TierView::from(&tier)))
}

/// Delete a tier
///
/// Only a tier no subscription names, whatever its status, can go. Scope: `usher:admin`.
#[utoipa::path(
    delete,
    operation_id = "delete_tier",
    path = "/admin/api/v1/tiers/{slug}",
    tag = "tiers",
    params(("slug" = String, Path, description = "The tier's slug")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tier", body = ErrorBody),
        (status = 409, description = "Subscriptions name the tier", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let slug = slug.into_inner();
    let now = state.clock.now();
    state
        .store
        .run(move |conn| manage::delete_tier(conn, &actor, &slug, now))
        .await?;
    Ok(no_content())
}
