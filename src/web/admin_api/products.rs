//! `/products` and `/products/{slug}`: pay-per-view products. Scope `usher:admin`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{self, Bytes};

use crate::domain::entitlements::manage::{self, ProductInput};
use crate::foundation::store::entitlements as store;
use crate::web::admin_api::auth::AdminCaller;
use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::input::Fields;
use crate::web::admin_api::tiers::path_slug;
use crate::web::admin_api::views::{ProductBody, ProductView};
use crate::web::admin_api::{json, no_content};
use crate::web::paths;
use crate::web::state::AppState;

fn input(fields: &Fields) -> Result<ProductInput, ApiError> {
    Ok(ProductInput {
        title: fields.required("title", "a string")?,
        starts_at: fields.optional_time("starts_at")?,
        ends_at: fields.optional_time("ends_at")?,
        rental_hours: fields.optional("rental_hours", "an integer")?,
        household: fields.optional("household", "true or false")?.unwrap_or_default(),
    })
}

/// List products
///
/// Every pay-per-view product, by slug. Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "list_products",
    path = "/admin/api/v1/products",
    tag = "products",
    responses((status = 200, description = "Every product, by slug", body = [ProductView])),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let products = state.store.run(store::list_products).await?;
    Ok(json(
        StatusCode::OK,
        &products.iter().map(ProductView::from).collect::<Vec<_>>(),
    ))
}

/// Create a product
///
/// Scope: `usher:admin`.
#[utoipa::path(
    post,
    operation_id = "create_product",
    path = "/admin/api/v1/products",
    tag = "products",
    request_body = ProductBody,
    responses(
        (status = 201, description = "Created", body = ProductView,
            headers(("Location" = String, description = "The product's address"))),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 409, description = "A product with this slug exists", body = ErrorBody),
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
    let product = state
        .store
        .run(move |conn| manage::create_product(conn, &actor, &slug, &input, now))
        .await?;
    let mut response = json(StatusCode::CREATED, &ProductView::from(&product));
    if let Ok(location) =
        header::HeaderValue::from_str(&format!("{}/products/{}", paths::ADMIN_API, product.slug))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Show a product
///
/// Scope: `usher:admin`.
#[utoipa::path(
    get,
    operation_id = "show_product",
    path = "/admin/api/v1/products/{slug}",
    tag = "products",
    params(("slug" = String, Path, description = "The product's slug")),
    responses(
        (status = 200, description = "The product", body = ProductView),
        (status = 404, description = "No such product", body = ErrorBody),
    ),
    security(("bearer" = ["usher:admin"]))
)]
pub(crate) async fn show(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    AdminCaller(_caller): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let product = state
        .store
        .run(move |conn| store::find_product(conn, &slug))
        .await?
        .ok_or_else(|| ApiError::not_found("product"))?;
    Ok(json(StatusCode::OK, &ProductView::from(&product)))
}

/// Change a product
///
/// Replaces the product's description: a field left out becomes `null`. The people holding it
/// see the change at once. Scope: `usher:admin`.
#[utoipa::path(
    put,
    operation_id = "update_product",
    path = "/admin/api/v1/products/{slug}",
    tag = "products",
    params(("slug" = String, Path, description = "The product's slug")),
    request_body = ProductBody,
    responses(
        (status = 200, description = "The product as it is now", body = ProductView),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
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
    let product = state
        .store
        .run(move |conn| manage::update_product(conn, &actor, &slug, &input, now))
        .await?;
    state.entitlements.clear();
    Ok(json(StatusCode::OK, &ProductView::from(&product)))
}

/// Delete a product
///
/// Only a product that was never granted can go; revoked grants count, since they are the
/// record of a sale. Scope: `usher:admin`.
#[utoipa::path(
    delete,
    operation_id = "delete_product",
    path = "/admin/api/v1/products/{slug}",
    tag = "products",
    params(("slug" = String, Path, description = "The product's slug")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "The product was granted", body = ErrorBody),
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
        .run(move |conn| manage::delete_product(conn, &actor, &slug, now))
        .await?;
    Ok(no_content())
}
