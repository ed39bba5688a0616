//! Tiers: list, create, edit, delete when unused.

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::entitlements::manage::{self, TierInput};
use crate::foundation::store::StoreError;
use crate::foundation::store::entitlements::{self as store, Tier};
use crate::web::dashboard::{Admin, Notice, Problem, SignedInAs, done, notice, problem, render, render_with};
use crate::web::extractors::AdminForm;
use crate::web::form::Form;
use crate::web::i18n::PageText;
use crate::web::pages::PageError;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "admin/tiers.html")]
struct ListPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    csrf: String,
    tiers: Vec<Tier>,
    /// What was typed in the create form, kept when it was refused.
    draft: Draft,
}

#[derive(Template)]
#[template(path = "admin/tier.html")]
struct EditPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    csrf: String,
    draft: Draft,
}

/// A tier form's fields as typed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Draft {
    pub slug: String,
    pub name: String,
    pub rank: String,
    pub features: String,
    pub max_streams: String,
    /// Empty: no limit.
    pub max_devices: String,
    /// `refuse` or `end_oldest`.
    pub stream_limit_policy: String,
    pub max_profiles: String,
    /// Empty: 0, no household.
    pub max_members: String,
}

impl Draft {
    fn from_form(form: &Form<'_>) -> Self {
        let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
        Self {
            slug: field("slug"),
            name: field("name"),
            rank: field("rank"),
            features: field("features"),
            max_streams: field("max_streams"),
            max_devices: field("max_devices"),
            stream_limit_policy: field("stream_limit_policy"),
            max_profiles: field("max_profiles"),
            max_members: field("max_members"),
        }
    }

    fn from_tier(tier: &Tier) -> Self {
        Self {
            slug: tier.slug.clone(),
            name: tier.name.clone(),
            rank: tier.rank.to_string(),
            features: tier.features.join(", "),
            max_streams: tier.max_streams.to_string(),
            max_devices: tier
                .max_devices
                .map(|devices| devices.to_string())
                .unwrap_or_default(),
            stream_limit_policy: tier.stream_limit_policy.clone(),
            max_profiles: tier.max_profiles.to_string(),
            max_members: tier.max_members.to_string(),
        }
    }

    /// The service's input, or the field that is not a number.
    fn input(&self) -> Result<TierInput, Problem> {
        let number =
            |refusal: &'static str, text: &str| text.parse::<i32>().map_err(|_| Problem::Said(refusal));
        Ok(TierInput {
            name: self.name.clone(),
            rank: number("dash-tier-rank-invalid", &self.rank)?,
            features: self
                .features
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|feature| !feature.is_empty())
                .map(str::to_owned)
                .collect(),
            max_streams: number("dash-tier-max-streams-invalid", &self.max_streams)?,
            max_devices: match self.max_devices.as_str() {
                "" => None,
                devices => Some(number("dash-tier-max-devices-invalid", devices)?),
            },
            stream_limit_policy: Some(self.stream_limit_policy.clone()).filter(|policy| !policy.is_empty()),
            max_profiles: match self.max_profiles.as_str() {
                "" => None,
                profiles => Some(number("dash-tier-max-profiles-invalid", profiles)?),
            },
            max_members: match self.max_members.as_str() {
                "" => 0,
                members => number("dash-tier-max-members-invalid", members)?,
            },
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
    let tiers = state.store.run(store::list_tiers).await?;
    let t = admin.text();
    let page = ListPage {
        problem: problem.map(|problem| problem.said(&t)),
        t,
        section: "tiers",
        signed_in_as: admin.signed_in_as(),
        notice,
        csrf: admin.csrf_value(),
        tiers,
        draft,
    };
    render_with(admin, status, &page)
}

/// `GET /admin/tiers`.
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

/// `POST /admin/tiers`.
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
        .run(move |conn| Ok::<_, StoreError>(manage::create_tier(conn, &actor, &slug, &input, now)))
        .await?;
    match created {
        Ok(_) => Ok(done("/admin/tiers", Notice::TierCreated)),
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

/// `GET /admin/tiers/{slug}`.
pub(crate) async fn edit(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let lookup = slug.into_inner();
    let tier = state
        .store
        .run(move |conn| store::find_tier(conn, &lookup))
        .await?
        .ok_or_else(PageError::not_found)?;
    let page = EditPage {
        t: admin.text(),
        section: "tiers",
        signed_in_as: admin.signed_in_as(),
        notice: notice(&request),
        problem: None,
        csrf: admin.csrf_value(),
        draft: Draft::from_tier(&tier),
    };
    render(admin, &page)
}

/// `POST /admin/tiers/{slug}`.
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
        Err(message) => Some(message),
        Ok(input) => {
            let (actor, target, now) = (admin.actor(), slug.clone(), state.clock.now());
            let updated = state
                .store
                .run(move |conn| Ok::<_, StoreError>(manage::update_tier(conn, &actor, &target, &input, now)))
                .await?;
            match updated {
                Ok(_) => {
                    // Its holders' entitlements changed: no cached answer may outlive that.
                    state.entitlements.clear();
                    return Ok(done(&format!("/admin/tiers/{slug}"), Notice::TierSaved));
                }
                Err(error) => Some(problem(error)?),
            }
        }
    };
    let t = admin.text();
    let page = EditPage {
        problem: refused.map(|problem| problem.said(&t)),
        t,
        section: "tiers",
        signed_in_as: admin.signed_in_as(),
        notice: None,
        csrf: admin.csrf_value(),
        draft,
    };
    render_with(admin, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// `POST /admin/tiers/{slug}/delete`.
pub(crate) async fn delete(
    state: web::Data<AppState>,
    _request: HttpRequest,
    slug: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    let (actor, target, now) = (admin.actor(), slug.clone(), state.clock.now());
    let deleted = state
        .store
        .run(move |conn| Ok::<_, StoreError>(manage::delete_tier(conn, &actor, &target, now)))
        .await?;
    match deleted {
        Ok(()) => Ok(done("/admin/tiers", Notice::TierDeleted)),
        Err(error) => {
            let message = problem(error)?;
            list_page(
                &state,
                admin,
                StatusCode::CONFLICT,
                None,
                Some(message),
                Draft::default(),
            )
            .await
        }
    }
}
