//! `/users/{id}/household`: the household (family plan) a person holds or belongs to, and
//! taking a member out of it. Scope `usher:admin`. The account page's family section calls the
//! same rules ([`crate::domain::households`]).

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;

use crate::domain::households;
use crate::foundation::store::users;
use crate::web::admin_api::auth::AdminCaller;
use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::views::HouseholdView;
use crate::web::admin_api::{json, no_content};
use crate::web::state::AppState;

/// Show a person's household
///
/// The household the person holds or is a member of: its holder, members and open
/// invitations (never their links). 404 when they are in none and their plan offers none.
/// Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "show_household",
    path = "/admin/api/v1/users/{id}/household",
    tag = "people",
    params(("id" = String, Path, description = "The person's id: the holder or a member")),
    responses(
        (status = 200, description = "The household", body = HouseholdView),
        (status = 404, description = "No such person, or no household", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn show(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_id.into_inner();
    let now = state.clock.now();
    let household = state
        .store
        .run(move |conn| {
            users::find_by_id(conn, &user_id)?
                .map(|_| households::household_of(conn, &user_id, now))
                .transpose()
        })
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?
        .ok_or_else(|| ApiError::not_found("household"))?;
    Ok(json(StatusCode::OK, &HouseholdView::from(&household)))
}

/// Remove a member from a household
///
/// Takes the member out of the household `id` holds: what they shared with it (the holder's
/// tier, the products marked `household`) is gone at once on every instance. Announced to
/// webhook receivers as `household.member_removed`; audited. Scope: `usher:admin`.
#[utoipa::path(
    delete,
    operation_id = "remove_household_member",
    path = "/admin/api/v1/users/{id}/household/members/{member_id}",
    tag = "people",
    params(
        ("id" = String, Path, description = "The holder's id"),
        ("member_id" = String, Path, description = "The member's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such person, or not a member of their household", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn remove_member(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let (holder_id, member_id) = path.into_inner();
    let (core, actor, member) = (Arc::clone(&state.core), caller.actor(), member_id.clone());
    state
        .store
        .run(move |conn| households::remove_member(conn, &actor, &holder_id, &member, core.clock.now()))
        .await?;
    state.entitlements.invalidate(&member_id);
    Ok(no_content())
}
