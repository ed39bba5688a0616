//! `/audit`: every entitlement change, who made it, and the state before and after. Scope
//! `usher:admin`.

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use crate::foundation::store::entitlements::{self as store, AuditFilter};
use crate::web::admin_api::auth::AdminCaller;
use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::input::Query;
use crate::web::admin_api::json;
use crate::web::admin_api::views::AuditEntryView;
use crate::web::state::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// Read the audit log
///
/// Entries newest first, filtered by every parameter given. Page with `before_id`: the
/// smallest `id` of the page before. Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "list_audit",
    path = "/admin/api/v1/audit",
    tag = "audit",
    params(
        ("actor" = Option<String>, Query, description = "Only changes by this actor, e.g. `client:payments`"),
        ("user_id" = Option<String>, Query, description = "Only changes to this person"),
        ("action" = Option<String>, Query, description = "Only this action, e.g. `grant.create`"),
        ("since" = Option<String>, Query, format = DateTime, description = "Only changes at or after this RFC 3339 time"),
        ("until" = Option<String>, Query, format = DateTime, description = "Only changes before this RFC 3339 time"),
        ("before_id" = Option<i64>, Query, description = "Only entries with a smaller id"),
        ("limit" = Option<i64>, Query, description = "At most this many entries, 1 to 500; default 50"),
    ),
    responses(
        (status = 200, description = "The entries, newest first", body = [AuditEntryView]),
        (status = 400, description = "A parameter is given twice", body = ErrorBody),
        (status = 422, description = "A parameter is wrong; the description names it", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(request.query_string())?;
    let limit = query.integer("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format_args!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let filter = AuditFilter {
        actor: query.get("actor").map(str::to_owned),
        user_id: query.get("user_id").map(str::to_owned),
        action: query.get("action").map(str::to_owned),
        since: query.time("since")?,
        until: query.time("until")?,
        before_id: query.integer("before_id")?,
        limit,
    };
    let entries = state
        .store
        .run(move |conn| store::list_audit(conn, &filter))
        .await?;
    Ok(json(
        StatusCode::OK,
        &entries.iter().map(AuditEntryView::from).collect::<Vec<_>>(),
    ))
}
