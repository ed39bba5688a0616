//! `/users...`: a person with their subscription and grants, what a payment service changes
//! (subscription, grants: scope `usher:entitlements` or `usher:admin`) and their entitlements.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use crate::domain::entitlements::manage::{self, GrantInput, SubscriptionInput};
use crate::domain::identity::users::normalize_email;
use crate::foundation::store::entitlements as store;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};
use crate::web::admin_api::auth::{AdminCaller, EntitlementsCaller};
use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::input::{Fields, Query};
use crate::web::admin_api::views::{
    EntitlementsView, GrantBody, GrantView, SubscriptionBody, SubscriptionView, UserView,
};
use crate::web::admin_api::{json, no_content};
use crate::web::state::AppState;

/// A person with their subscription and grants.
fn user_view(conn: &mut DbConnection, user: User) -> Result<UserView, StoreError> {
    let subscription = store::find_subscription(conn, &user.id)?;
    let grants = store::list_grants(conn, &user.id)?;
    Ok(UserView::new(user, subscription.as_ref(), &grants))
}

/// Find people by email
///
/// The people with this email address (compared as Usher stores it: trimmed, lower case):
/// none or one. Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "find_users",
    path = "/admin/api/v1/users",
    tag = "people",
    params(("email" = String, Query, description = "The email address to look for")),
    responses(
        (status = 200, description = "The matching people, with subscription and grants", body = [UserView]),
        (status = 422, description = "`email` is missing or not an email address", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn find(
    state: web::Data<AppState>,
    request: HttpRequest,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(request.query_string())?;
    let email = normalize_email(
        query
            .get("email")
            .ok_or_else(|| ApiError::invalid("email", "is required"))?,
    )?;
    let found = state
        .store
        .run(move |conn| {
            users::find_by_email(conn, &email)?
                .map(|user| user_view(conn, user))
                .transpose()
        })
        .await?;
    Ok(json(StatusCode::OK, &Vec::from_iter(found)))
}

/// Show a person
///
/// The person with their subscription and every grant, newest first, revoked ones included.
/// Scope: `usher:admin` (a payment service's `usher:entitlements` does not reveal email
/// addresses and names).
#[utoipa::path(
    get,
    operation_id = "show_user",
    path = "/admin/api/v1/users/{id}",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The person", body = UserView),
        (status = 404, description = "No such person", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn show(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_id.into_inner();
    let user = state
        .store
        .run(move |conn| {
            users::find_by_id(conn, &user_id)?
                .map(|user| user_view(conn, user))
                .transpose()
        })
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(json(StatusCode::OK, &user))
}

/// Set a person's subscription
///
/// Replaces the person's one subscription, as the payment service reports it. Scope:
/// `usher:entitlements` or `usher:admin`.
#[utoipa::path(
    put,
    operation_id = "put_subscription",
    path = "/admin/api/v1/users/{id}/subscription",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    request_body = SubscriptionBody,
    responses(
        (status = 200, description = "The subscription as it is now", body = SubscriptionView),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong (an unknown tier, status or timestamp); the description names it", body = ErrorBody),
    ),
    security(("bearer" = ["usher:entitlements"]), ("bearer" = ["usher:admin"]))
)]
pub(crate) async fn put_subscription(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    body: Result<Bytes, actix_web::Error>,
    EntitlementsCaller(caller): EntitlementsCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let fields = Fields::parse(body)?;
    let input = SubscriptionInput {
        tier: fields.required("tier", "a string")?,
        status: fields.required("status", "a string")?,
        current_period_end: fields.required_time("current_period_end")?,
        external_ref: fields.optional("external_ref", "a string")?,
    };
    let user_id = user_id.into_inner();
    let now = state.clock.now();
    let changed = user_id.clone();
    let subscription = state
        .store
        .run(move |conn| manage::put_subscription(conn, &actor, &changed, &input, now))
        .await?;
    state.entitlements.invalidate(&user_id);
    Ok(json(StatusCode::OK, &SubscriptionView::from(&subscription)))
}

/// End a person's subscription
///
/// Removes it: the person keeps no tier. Scope: `usher:entitlements` or `usher:admin`.
#[utoipa::path(
    delete,
    operation_id = "end_subscription",
    path = "/admin/api/v1/users/{id}/subscription",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such person, or they have no subscription", body = ErrorBody),
    ),
    security(("bearer" = ["usher:entitlements"]), ("bearer" = ["usher:admin"]))
)]
pub(crate) async fn end_subscription(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    EntitlementsCaller(caller): EntitlementsCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let user_id = user_id.into_inner();
    let now = state.clock.now();
    let changed = user_id.clone();
    let ended = state
        .store
        .run(move |conn| manage::end_subscription(conn, &actor, &changed, now))
        .await?;
    if !ended {
        return Err(ApiError::not_found("subscription"));
    }
    state.entitlements.invalidate(&user_id);
    Ok(no_content())
}

/// Grant a product
///
/// Grants a pay-per-view product. Idempotent on `external_ref`: the same reference again
/// answers 200 with the first grant, unchanged (payment webhooks are delivered more than
/// once); the same reference for another product or person is a 409. Scope:
/// `usher:entitlements` or `usher:admin`.
#[utoipa::path(
    post,
    operation_id = "grant_product",
    path = "/admin/api/v1/users/{id}/grants",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    request_body = GrantBody,
    responses(
        (status = 201, description = "Granted", body = GrantView),
        (status = 200, description = "Granted before under this `external_ref`: the first grant", body = GrantView),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 409, description = "The `external_ref` names another grant", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong (an unknown product, a timestamp); the description names it", body = ErrorBody),
    ),
    security(("bearer" = ["usher:entitlements"]), ("bearer" = ["usher:admin"]))
)]
pub(crate) async fn grant(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    body: Result<Bytes, actix_web::Error>,
    EntitlementsCaller(caller): EntitlementsCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let fields = Fields::parse(body)?;
    let input = GrantInput {
        product: fields.required("product", "a string")?,
        valid_from: fields.optional_time("valid_from")?,
        valid_until: fields.optional_time("valid_until")?,
        external_ref: fields.optional("external_ref", "a string")?,
    };
    let user_id = user_id.into_inner();
    let now = state.clock.now();
    let changed = user_id.clone();
    let (grant, created) = state
        .store
        .run(move |conn| manage::grant_product(conn, &actor, &changed, &input, now))
        .await?;
    if !created {
        return Ok(json(StatusCode::OK, &GrantView::from(&grant)));
    }
    state.entitlements.invalidate(&user_id);
    Ok(json(StatusCode::CREATED, &GrantView::from(&grant)))
}

/// Revoke a grant
///
/// The grant stops giving its product at once (a refund, a chargeback). Revoking a revoked
/// grant changes nothing and answers 204 too. Scope: `usher:entitlements` or `usher:admin`.
#[utoipa::path(
    delete,
    operation_id = "revoke_grant",
    path = "/admin/api/v1/users/{id}/grants/{grant_id}",
    tag = "people",
    params(
        ("id" = String, Path, description = "The person's id"),
        ("grant_id" = String, Path, description = "The grant's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "The person has no such grant", body = ErrorBody),
    ),
    security(("bearer" = ["usher:entitlements"]), ("bearer" = ["usher:admin"]))
)]
pub(crate) async fn revoke_grant(
    state: web::Data<AppState>,
    ids: web::Path<(String, String)>,
    EntitlementsCaller(caller): EntitlementsCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let (user_id, grant_id) = ids.into_inner();
    let now = state.clock.now();
    let changed = user_id.clone();
    let revoked = state
        .store
        .run(move |conn| manage::revoke_grant(conn, &actor, &changed, &grant_id, now))
        .await?;
    if revoked {
        state.entitlements.invalidate(&user_id);
    }
    Ok(no_content())
}

/// Show a person's entitlements
///
/// What the person may watch now: what introspection of their tokens says. Scope:
/// `usher:admin` (a payment service learns a person's entitlements from its own writes and
/// from introspection).
#[utoipa::path(
    get,
    operation_id = "show_entitlements",
    path = "/admin/api/v1/users/{id}/entitlements",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The entitlements now", body = EntitlementsView),
        (status = 404, description = "No such person", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn entitlements(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_id.into_inner();
    let now = state.clock.now();
    let entitlements = state
        .store
        .run(move |conn| manage::entitlements_of(conn, &user_id, now))
        .await?;
    Ok(json(StatusCode::OK, &EntitlementsView::from(&entitlements)))
}
