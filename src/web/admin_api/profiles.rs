//! `/users/{id}/profiles`: a person's profiles, for support staff and for platforms importing
//! existing profiles. Scope `usher:admin`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};

use crate::domain::profiles::{self, PinChange, ProfileInput};
use crate::foundation::store::{profiles as store, users};
use crate::web::admin_api::auth::AdminCaller;
use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::input::Fields;
use crate::web::admin_api::views::{ProfileBody, ProfileView};
use crate::web::admin_api::{json, no_content};
use crate::web::state::AppState;

/// A profile's description from a body; `pin` is write-only: a string sets it, `null` clears
/// it, absence keeps it.
fn input(fields: &Fields) -> Result<ProfileInput, ApiError> {
    let pin = match fields.optional::<String>("pin", "4 digits as a string")? {
        Some(pin) => PinChange::Set(pin),
        None if fields.names("pin") => PinChange::Clear,
        None => PinChange::Keep,
    };
    Ok(ProfileInput {
        name: fields.required("name", "a string")?,
        maturity: fields.optional("maturity", "all, 7, 13, 16 or 18 as a string")?,
        kids: fields.optional("kids", "true or false")?.unwrap_or(false),
        pin,
    })
}

/// List a person's profiles
///
/// Oldest first. Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "list_profiles",
    path = "/admin/api/v1/users/{id}/profiles",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The profiles", body = [ProfileView]),
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
    let listed = state
        .store
        .run(move |conn| {
            users::find_by_id(conn, &user_id)?
                .map(|_| store::of_user(conn, &user_id))
                .transpose()
        })
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let views: Vec<ProfileView> = listed.iter().map(ProfileView::from).collect();
    Ok(json(StatusCode::OK, &views))
}

/// Add a profile
///
/// Within the plan's `max_profiles` (409 beyond it). `pin`, when given, is 4 digits, stored
/// only as an argon2id hash. Audited. Scope: `usher:admin`.
#[utoipa::path(
    post,
    operation_id = "create_profile",
    path = "/admin/api/v1/users/{id}/profiles",
    tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    request_body = ProfileBody,
    responses(
        (status = 201, description = "Created", body = ProfileView),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 409, description = "The account has as many profiles as its plan allows", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong; the description names it", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    body: Result<Bytes, actix_web::Error>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let input = input(&Fields::parse(body)?)?;
    let profile = profiles::create(&state.core, &caller.actor(), &user_id, input).await?;
    Ok(json(StatusCode::CREATED, &ProfileView::from(&profile)))
}

/// Change a profile
///
/// Replaces its name, maturity and kids flag; `pin` sets (4 digits), clears (`null`) or, left
/// out, keeps the PIN. Audited. Scope: `usher:admin`.
#[utoipa::path(
    put,
    operation_id = "update_profile",
    path = "/admin/api/v1/users/{id}/profiles/{profile_id}",
    tag = "people",
    params(
        ("id" = String, Path, description = "The person's id"),
        ("profile_id" = String, Path, description = "The profile's id"),
    ),
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The profile as it is now", body = ProfileView),
        (status = 404, description = "The person has no such profile", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong; the description names it", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn update(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: Result<Bytes, actix_web::Error>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let (user_id, profile_id) = path.into_inner();
    let input = input(&Fields::parse(body)?)?;
    let profile = profiles::update(&state.core, &caller.actor(), &user_id, &profile_id, input).await?;
    Ok(json(StatusCode::OK, &ProfileView::from(&profile)))
}

/// Delete a profile
///
/// Audited. Scope: `usher:admin`.
#[utoipa::path(
    delete,
    operation_id = "delete_profile",
    path = "/admin/api/v1/users/{id}/profiles/{profile_id}",
    tag = "people",
    params(
        ("id" = String, Path, description = "The person's id"),
        ("profile_id" = String, Path, description = "The profile's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "The person has no such profile", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    AdminCaller(caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let (user_id, profile_id) = path.into_inner();
    profiles::delete(&state.core, &caller.actor(), &user_id, &profile_id).await?;
    Ok(no_content())
}
