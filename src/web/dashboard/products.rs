//! Pay-per-view products: list, create, edit the window and rental length, see the grants.

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::entitlements::manage::{self, ProductInput};
use crate::domain::entitlements::{GrantState, grant_state};
use crate::foundation::store::StoreError;
use crate::foundation::store::entitlements::{self as store, Product};
use crate::foundation::time::format_utc;
use crate::foundation::time::rfc3339;
use crate::web::dashboard::{Admin, Notice, Problem, SignedInAs, done, notice, problem, render_with};
use crate::web::extractors::AdminForm;
use crate::web::form::Form;
use crate::web::i18n::PageText;
use crate::web::pages::PageError;
use crate::web::state::AppState;

/// How many of a product's grants its page lists.
const GRANTS_SHOWN: i64 = 100;

/// A product as the list shows it.
pub(crate) struct ProductRow {
    pub slug: String,
    pub title: String,
    pub window: String,
    pub rental: String,
}

impl ProductRow {
    fn new(t: &PageText, product: &Product) -> Self {
        Self {
            slug: product.slug.clone(),
            title: product.title.clone(),
            window: describe_window(t, product.starts_at, product.ends_at),
            rental: product.rental_hours.map_or_else(
                || t.get("dash-product-rental-until-close"),
                |hours| t.count("dash-product-rental-hours-short", hours.into()),
            ),
        }
    }
}

/// A time window in words: "Always", "From …", "Until …" or "… – …".
pub(crate) fn describe_window(t: &PageText, starts_at: Option<i64>, ends_at: Option<i64>) -> String {
    match (starts_at, ends_at) {
        (None, None) => t.get("dash-window-always"),
        (Some(starts), None) => t.with("dash-window-from", "start", &format_utc(starts)),
        (None, Some(ends)) => t.with("dash-window-until", "end", &format_utc(ends)),
        (Some(starts), Some(ends)) => t.with_two(
            "dash-window-between",
            "start",
            &format_utc(starts),
            "end",
            &format_utc(ends),
        ),
    }
}

/// Where a grant of `product` stands at `now`, in words: the entitlements' own rule.
pub(crate) fn describe_grant_state(
    t: &PageText,
    grant: &store::Grant,
    product: &Product,
    now: i64,
) -> String {
    match grant_state(grant, product, now) {
        GrantState::Active { .. } => t.get("dash-grant-active"),
        GrantState::NotYetOnSale { starts } => {
            t.with("dash-grant-not-yet-on-sale", "date", &format_utc(starts))
        }
        GrantState::Starts { starts } => t.with("dash-grant-starts", "date", &format_utc(starts)),
        GrantState::Ended => t.get("dash-grant-ended"),
        GrantState::Revoked => t.get("dash-grant-revoked"),
    }
}

/// A grant of the product, as its page lists it.
pub(crate) struct GrantRow {
    pub email: String,
    pub user_id: String,
    pub valid: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ListPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    csrf: String,
    products: Vec<ProductRow>,
    draft: Draft,
}

#[derive(Template)]
#[template(path = "admin/product.html")]
struct EditPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    csrf: String,
    draft: Draft,
    grants: Vec<GrantRow>,
    /// How many of its grants the page lists at most.
    grants_shown: i64,
}

/// A product form's fields as typed; times as `YYYY-MM-DDTHH:MM` in UTC.
#[derive(Clone, Debug, Default)]
pub(crate) struct Draft {
    pub slug: String,
    pub title: String,
    pub starts_at: String,
    pub ends_at: String,
    pub rental_hours: String,
    /// Whether the "shared with the household" box is ticked.
    pub household: bool,
}

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` field, read as UTC) to Unix seconds.
pub(crate) fn parse_minute(text: &str) -> Option<i64> {
    match text.len() {
        16 => rfc3339::parse(&format!("{text}:00Z")),
        _ => rfc3339::parse(text),
    }
}

/// Unix seconds as a `datetime-local` value in UTC.
pub(crate) fn minute_value(seconds: i64) -> String {
    rfc3339::format(seconds).chars().take(16).collect()
}

impl Draft {
    fn from_form(form: &Form<'_>) -> Self {
        let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
        Self {
            slug: field("slug"),
            title: field("title"),
            starts_at: field("starts_at"),
            ends_at: field("ends_at"),
            rental_hours: field("rental_hours"),
            household: form.get("household").is_some(),
        }
    }

    fn from_product(product: &Product) -> Self {
        Self {
            slug: product.slug.clone(),
            title: product.title.clone(),
            starts_at: product.starts_at.map(minute_value).unwrap_or_default(),
            ends_at: product.ends_at.map(minute_value).unwrap_or_default(),
            rental_hours: product
                .rental_hours
                .map(|hours| hours.to_string())
                .unwrap_or_default(),
            household: product.household,
        }
    }

    fn input(&self) -> Result<ProductInput, Problem> {
        let time = |refusal: &'static str, text: &str| match text {
            "" => Ok(None),
            text => parse_minute(text).map(Some).ok_or(Problem::Said(refusal)),
        };
        Ok(ProductInput {
            title: self.title.clone(),
            starts_at: time("dash-product-starts-invalid", &self.starts_at)?,
            ends_at: time("dash-product-ends-invalid", &self.ends_at)?,
            rental_hours: match self.rental_hours.as_str() {
                "" => None,
                text => Some(
                    text.parse()
                        .map_err(|_| Problem::Said("dash-product-rental-invalid"))?,
                ),
            },
            household: self.household,
        })
    }
}

async fn list_page(
    state: &AppState,
    admin: Admin,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<Problem>,
    draft: Draft,
) -> Result<HttpResponse, PageError> {
    let products = state.store.run(store::list_products).await?;
    let t = admin.text();
    let page = ListPage {
        section: "products",
        signed_in_as: admin.signed_in_as(),
        notice,
        problem: problem.map(|problem| problem.said(&t)),
        csrf: admin.csrf_value(),
        products: products
            .iter()
            .map(|product| ProductRow::new(&t, product))
            .collect(),
        t,
        draft,
    };
    render_with(admin, status, &page)
}

/// `GET /admin/products`.
pub(crate) async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    list_page(
        &state,
        admin,
        StatusCode::OK,
        notice(&request),
        None,
        Draft::default(),
    )
    .await
}

/// `POST /admin/products`.
pub(crate) async fn create(
    state: web::Data<AppState>,
    _request: HttpRequest,
    AdminForm { admin, form }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let draft = Draft::from_form(&form);
    let input = match draft.input() {
        Ok(input) => input,
        Err(message) => {
            return list_page(
                &state,
                admin,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
                draft,
            )
            .await;
        }
    };
    let (actor, slug, now) = (admin.actor(), draft.slug.clone(), state.clock.now());
    let created = state
        .store
        .run(move |conn| Ok::<_, StoreError>(manage::create_product(conn, &actor, &slug, &input, now)))
        .await?;
    match created {
        Ok(_) => Ok(done("/admin/products", Notice::ProductCreated)),
        Err(error) => {
            let message = problem(error)?;
            list_page(
                &state,
                admin,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
                draft,
            )
            .await
        }
    }
}

async fn edit_page(
    state: &AppState,
    admin: Admin,
    status: StatusCode,
    slug: String,
    draft: Option<Draft>,
    notice: Option<&'static str>,
    problem: Option<Problem>,
) -> Result<HttpResponse, PageError> {
    let lookup = slug.clone();
    let now = state.clock.now();
    let (product, grants) = state
        .store
        .run(move |conn| {
            Ok::<_, StoreError>((
                store::find_product(conn, &lookup)?,
                crate::foundation::store::dashboard::product_grants(conn, &lookup, GRANTS_SHOWN)?,
            ))
        })
        .await?;
    let product = product.ok_or_else(PageError::not_found)?;
    let t = admin.text();
    let grants = grants
        .into_iter()
        .map(|(grant, email)| GrantRow {
            state: describe_grant_state(&t, &grant, &product, now),
            valid: describe_window(&t, Some(grant.valid_from), grant.valid_until),
            email,
            user_id: grant.user_id,
        })
        .collect();
    let page = EditPage {
        section: "products",
        signed_in_as: admin.signed_in_as(),
        notice,
        problem: problem.map(|problem| problem.said(&t)),
        csrf: admin.csrf_value(),
        draft: draft.unwrap_or_else(|| Draft::from_product(&product)),
        grants,
        grants_shown: GRANTS_SHOWN,
        t,
    };
    render_with(admin, status, &page)
}

/// `GET /admin/products/{slug}`.
pub(crate) async fn edit(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    edit_page(
        &state,
        admin,
        StatusCode::OK,
        slug.into_inner(),
        None,
        notice(&request),
        None,
    )
    .await
}

/// `POST /admin/products/{slug}`.
pub(crate) async fn update(
    state: web::Data<AppState>,
    _request: HttpRequest,
    slug: web::Path<String>,
    AdminForm { admin, form }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    let draft = Draft {
        slug: slug.clone(),
        ..Draft::from_form(&form)
    };
    let refused = match draft.input() {
        Err(message) => message,
        Ok(input) => {
            let (actor, target, now) = (admin.actor(), slug.clone(), state.clock.now());
            let updated = state
                .store
                .run(move |conn| {
                    Ok::<_, StoreError>(manage::update_product(conn, &actor, &target, &input, now))
                })
                .await?;
            match updated {
                Ok(_) => {
                    // Its holders' entitlements changed: no cached answer may outlive that.
                    state.entitlements.clear();
                    return Ok(done(&format!("/admin/products/{slug}"), Notice::ProductSaved));
                }
                Err(error) => problem(error)?,
            }
        }
    };
    edit_page(
        &state,
        admin,
        StatusCode::UNPROCESSABLE_ENTITY,
        slug,
        Some(draft),
        None,
        Some(refused),
    )
    .await
}
