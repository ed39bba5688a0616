//! The admin dashboard: server-rendered pages under `/admin` for people with the admin role,
//! signed in with a second factor not long ago. Every page and form checks that on the
//! server ([`gate`], through the `Admin` and `AdminForm` extractors); forms check CSRF first. Changes go through the same service functions
//! as the admin API ([`crate::domain::entitlements::manage`], [`crate::domain::oauth::clients`]), with the
//! administrator as the audit log's actor.
//!
//! The dashboard speaks English, whatever the browser or the administrator's account asks
//! for: its pages take their words from `locales/en/admin.ftl` through the same
//! [`PageText`] as viewer pages, in [`language`], and say `lang="en" dir="ltr"`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use url::form_urlencoded;

use crate::domain::entitlements::manage::{Actor, EntitlementError};
use crate::domain::identity::session::SignedIn;
use crate::foundation::i18n::Locale;
use crate::web::brand::PageBrand;
use crate::web::csrf;
use crate::web::form::Form;
use crate::web::i18n::{PageText, Words};
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::return_to::ReturnTo;
use crate::web::session_cookie;
use crate::web::state::AppState;

pub(crate) mod apps;
pub(crate) mod audit;
pub(crate) mod charts;
pub(crate) mod keys;
pub(crate) mod overview;
pub(crate) mod people;
pub(crate) mod products;
pub(crate) mod tiers;

/// An administrator allowed in, and what every page needs from that.
pub(crate) struct Admin {
    pub signed_in: SignedIn,
    /// The CSRF token for the page's forms, and the cookie to set when it is new.
    pub csrf: csrf::CsrfToken,
    brand: Arc<PageBrand>,
    request: HttpRequest,
}

impl Admin {
    pub(crate) fn actor(&self) -> Actor {
        Actor::admin(&self.signed_in.user.id)
    }

    pub(crate) fn csrf_value(&self) -> String {
        self.csrf.token.clone()
    }

    /// What the page's template speaks with: the dashboard's [`language`].
    pub(crate) fn text(&self) -> PageText {
        PageText::new(language(), Arc::clone(&self.brand), &self.request)
    }

    pub(crate) fn signed_in_as(&self) -> SignedInAs {
        SignedInAs {
            email: self.signed_in.user.email.clone(),
            csrf: self.csrf_value(),
        }
    }
}

/// The dashboard's language: English, the language every catalogue falls back to. Only
/// English has the dashboard's catalogue (`admin.ftl`), so the dashboard's words and its
/// `lang` and `dir` agree whatever language the rest of the site speaks to the administrator.
pub(crate) fn language() -> Locale {
    Locale::default()
}

/// Who every dashboard page says is signed in, and the token of its sign-out form.
pub(crate) struct SignedInAs {
    pub email: String,
    pub csrf: String,
}

/// Why a request did not get in: a page to show, or a sign-in to go through first (the
/// login page's address, which comes back here).
#[derive(Debug)]
pub(crate) enum Refusal {
    SignIn(String),
    Page(PageError),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn(location) => write!(f, "sign in first: {location}"),
            Self::Page(error) => write!(f, "{}", error.english_message()),
        }
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn(_) => StatusCode::SEE_OTHER,
            Self::Page(error) => error.status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn(location) => pages::see_other(location),
            Self::Page(error) => error.error_response(),
        }
    }
}

impl From<PageError> for Refusal {
    fn from(error: PageError) -> Self {
        Self::Page(error)
    }
}

impl From<crate::foundation::store::StoreError> for Refusal {
    fn from(error: crate::foundation::store::StoreError) -> Self {
        Self::Page(error.into())
    }
}

/// Shown in English, as the dashboard is: a refusal is rendered without its request.
fn forbidden() -> PageError {
    PageError::said(
        StatusCode::FORBIDDEN,
        "dash-forbidden",
        Words::Message("dash-forbidden-lead"),
    )
}

/// Lets in an administrator whose sign-in used two factors within `admin_session_max_secs`;
/// anyone else signs in first (no session, one factor, or too long ago) or gets 403 (not an
/// administrator). `posted`: the request is a form, already past its CSRF check
/// ([`crate::web::extractors::AdminForm`]).
pub(crate) async fn gate(state: &AppState, request: &HttpRequest, posted: bool) -> Result<Admin, Refusal> {
    let path = match request.query_string() {
        "" => request.path().to_owned(),
        query => format!("{}?{query}", request.path()),
    };
    let Some(signed_in) = session_cookie::current(state, request).await? else {
        return Err(Refusal::SignIn(ReturnTo::Dashboard(path).sign_in_url()));
    };
    if !signed_in.user.is_admin {
        return Err(Refusal::Page(forbidden()));
    }
    let two_factors = signed_in.session.amr.iter().any(|method| method == "mfa");
    let recent = state.clock.now() - signed_in.session.auth_time <= state.config.admin_session_max_secs;
    if !two_factors || !recent {
        // A form's answer would be lost on the way: the page it came from is the way back.
        let back = if posted { paths::DASHBOARD.to_owned() } else { path };
        return Err(Refusal::SignIn(ReturnTo::Dashboard(back).sign_in_url()));
    }
    Ok(Admin {
        signed_in,
        csrf: csrf::token(state, request),
        brand: Arc::clone(&state.brand),
        request: request.clone(),
    })
}

/// Renders a dashboard page with the gate's CSRF cookie.
pub(crate) fn render(admin: Admin, page: &impl askama::Template) -> Result<HttpResponse, PageError> {
    render_with(admin, StatusCode::OK, page)
}

pub(crate) fn render_with(
    admin: Admin,
    status: StatusCode,
    page: &impl askama::Template,
) -> Result<HttpResponse, PageError> {
    crate::web::login::pages::with_csrf_cookie(pages::render(status, page)?, admin.csrf)
}

/// Why a change was refused, as a page says it above its forms.
#[derive(Debug)]
pub(crate) enum Problem {
    /// A message of the dashboard's catalogue.
    Said(&'static str),
    /// A message with `$count`, chosen by the plural rules.
    Count(&'static str, i64),
    /// A service's refusal of one field (its name as the service gives it), in the service's
    /// own words: the admin API and the command line say the same.
    Field { field: String, reason: String },
    /// A service's refusal in its own words.
    Service(String),
    /// What the service found nothing of, in its word (such as "tier").
    NoSuch(String),
}

impl Problem {
    /// A service's refusal of `field`, its underscores read as spaces.
    pub(crate) fn field(field: &str, reason: String) -> Self {
        Self::Field {
            field: field.replace('_', " "),
            reason,
        }
    }

    /// The problem in the words of `t`.
    pub(crate) fn said(&self, t: &PageText) -> String {
        match self {
            Self::Said(id) => t.get(id),
            Self::Count(id, count) => t.count(id, *count),
            Self::Field { field, reason } => {
                t.with_two("dash-problem-field", "field", field, "reason", reason)
            }
            Self::Service(reason) => reason.clone(),
            Self::NoSuch(what) => t.with("dash-problem-no-such", "what", what),
        }
    }
}

/// A service function's refusal as the page says it: which field is wrong and why.
pub(crate) fn problem(error: EntitlementError) -> Result<Problem, PageError> {
    match error {
        EntitlementError::Invalid { field, message } => Ok(Problem::field(field, message)),
        EntitlementError::Conflict(message) => Ok(Problem::Service(message)),
        EntitlementError::NotFound(what) => Ok(Problem::NoSuch(what.to_string())),
        other => Err(PageError::internal(&other)),
    }
}

/// What a dashboard page says after a change. The address carries only the notice's key, so
/// a crafted `?done=` shows one of these texts or nothing, never text of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    AppDisabled,
    ProductCreated,
    ProductSaved,
    KeysRotated,
    KeysRotatedSoon,
    TierCreated,
    TierSaved,
    TierDeleted,
    SubscriptionSet,
    SubscriptionEnded,
    ProductGranted,
    GrantRevoked,
    SignedOutEverywhere,
    AccountDisabled,
    AccountEnabled,
    TwoStepReset,
    MadeAdmin,
    AdminRemoved,
    StreamStopped,
    StreamAlreadyOver,
    MemberRemoved,
    ProfileAdded,
    ProfileDeleted,
    ProfilePinCleared,
}

impl Notice {
    const ALL: [Self; 24] = [
        Self::AppDisabled,
        Self::ProductCreated,
        Self::ProductSaved,
        Self::KeysRotated,
        Self::KeysRotatedSoon,
        Self::TierCreated,
        Self::TierSaved,
        Self::TierDeleted,
        Self::SubscriptionSet,
        Self::SubscriptionEnded,
        Self::ProductGranted,
        Self::GrantRevoked,
        Self::SignedOutEverywhere,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::TwoStepReset,
        Self::MadeAdmin,
        Self::AdminRemoved,
        Self::StreamStopped,
        Self::StreamAlreadyOver,
        Self::MemberRemoved,
        Self::ProfileAdded,
        Self::ProfileDeleted,
        Self::ProfilePinCleared,
    ];

    fn key(self) -> &'static str {
        match self {
            Self::AppDisabled => "app-disabled",
            Self::ProductCreated => "product-created",
            Self::ProductSaved => "product-saved",
            Self::KeysRotated => "keys-rotated",
            Self::KeysRotatedSoon => "keys-rotated-soon",
            Self::TierCreated => "tier-created",
            Self::TierSaved => "tier-saved",
            Self::TierDeleted => "tier-deleted",
            Self::SubscriptionSet => "subscription-set",
            Self::SubscriptionEnded => "subscription-ended",
            Self::ProductGranted => "product-granted",
            Self::GrantRevoked => "grant-revoked",
            Self::SignedOutEverywhere => "signed-out",
            Self::AccountDisabled => "account-disabled",
            Self::AccountEnabled => "account-enabled",
            Self::TwoStepReset => "two-step-reset",
            Self::MadeAdmin => "made-admin",
            Self::AdminRemoved => "admin-removed",
            Self::StreamStopped => "stream-stopped",
            Self::StreamAlreadyOver => "stream-over",
            Self::MemberRemoved => "member-removed",
            Self::ProfileAdded => "profile-added",
            Self::ProfileDeleted => "profile-deleted",
            Self::ProfilePinCleared => "profile-pin-cleared",
        }
    }

    /// The message the page shows.
    fn message(self) -> &'static str {
        match self {
            Self::AppDisabled => "dash-notice-app-disabled",
            Self::ProductCreated => "dash-notice-product-created",
            Self::ProductSaved => "dash-notice-product-saved",
            Self::KeysRotated => "dash-notice-keys-rotated",
            Self::KeysRotatedSoon => "dash-notice-keys-rotated-soon",
            Self::TierCreated => "dash-notice-tier-created",
            Self::TierSaved => "dash-notice-tier-saved",
            Self::TierDeleted => "dash-notice-tier-deleted",
            Self::SubscriptionSet => "dash-notice-subscription-set",
            Self::SubscriptionEnded => "dash-notice-subscription-ended",
            Self::ProductGranted => "dash-notice-product-granted",
            Self::GrantRevoked => "dash-notice-grant-revoked",
            Self::SignedOutEverywhere => "dash-notice-signed-out",
            Self::AccountDisabled => "dash-notice-account-disabled",
            Self::AccountEnabled => "dash-notice-account-enabled",
            Self::TwoStepReset => "dash-notice-two-step-reset",
            Self::MadeAdmin => "dash-notice-made-admin",
            Self::AdminRemoved => "dash-notice-admin-removed",
            Self::StreamStopped => "dash-notice-stream-stopped",
            Self::StreamAlreadyOver => "dash-notice-stream-over",
            Self::MemberRemoved => "dash-notice-member-removed",
            Self::ProfileAdded => "dash-notice-profile-added",
            Self::ProfileDeleted => "dash-notice-profile-deleted",
            Self::ProfilePinCleared => "dash-notice-profile-pin-cleared",
        }
    }
}

/// `/admin/...` with a notice after a change.
pub(crate) fn done(path: &str, notice: Notice) -> HttpResponse {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("done", notice.key())
        .finish();
    pages::see_other(&format!("{path}?{query}"))
}

/// The notice a page shows after a change (`?done=`): one of [`Notice`]'s messages, or none.
pub(crate) fn notice(request: &HttpRequest) -> Option<&'static str> {
    let query = Form::from_urlencoded(request.query_string()).ok()?;
    let key = query.get("done")?;
    Notice::ALL
        .into_iter()
        .find(|notice| notice.key() == key)
        .map(Notice::message)
}

/// A dashboard resource; its metrics label is `admin_dashboard`.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).name(&format!("admin_dashboard_{path}"))
}

/// The dashboard's routes.
pub(crate) fn routes(config: &mut web::ServiceConfig) {
    let get = web::get;
    let post = web::post;
    config
        .service(resource("/admin").route(get().to(overview::show)))
        .service(
            resource("/admin/tiers")
                .route(get().to(tiers::list))
                .route(post().to(tiers::create)),
        )
        .service(
            resource("/admin/tiers/{slug}")
                .route(get().to(tiers::edit))
                .route(post().to(tiers::update)),
        )
        .service(resource("/admin/tiers/{slug}/delete").route(post().to(tiers::delete)))
        .service(
            resource("/admin/products")
                .route(get().to(products::list))
                .route(post().to(products::create)),
        )
        .service(
            resource("/admin/products/{slug}")
                .route(get().to(products::edit))
                .route(post().to(products::update)),
        )
        .service(resource("/admin/people").route(get().to(people::list)))
        .service(resource("/admin/people/{id}").route(get().to(people::show)))
        .service(resource("/admin/people/{id}/subscription").route(post().to(people::set_tier)))
        .service(resource("/admin/people/{id}/subscription/end").route(post().to(people::end_subscription)))
        .service(resource("/admin/people/{id}/grants").route(post().to(people::grant)))
        .service(resource("/admin/people/{id}/grants/{grant}/revoke").route(post().to(people::revoke_grant)))
        .service(resource("/admin/people/{id}/sign-out").route(post().to(people::sign_out)))
        .service(resource("/admin/people/{id}/disable").route(post().to(people::disable)))
        .service(resource("/admin/people/{id}/enable").route(post().to(people::enable)))
        .service(
            resource("/admin/people/{id}/second-factor/reset").route(post().to(people::reset_second_factor)),
        )
        .service(resource("/admin/people/{id}/admin").route(post().to(people::make_admin)))
        .service(resource("/admin/people/{id}/admin/remove").route(post().to(people::remove_admin)))
        .service(resource("/admin/people/{id}/streams/{stream}/stop").route(post().to(people::stop_stream)))
        .service(resource("/admin/people/{id}/profiles").route(post().to(people::add_profile)))
        .service(
            resource("/admin/people/{id}/profiles/{profile}/delete").route(post().to(people::delete_profile)),
        )
        .service(
            resource("/admin/people/{id}/profiles/{profile}/pin/clear")
                .route(post().to(people::clear_profile_pin)),
        )
        .service(
            resource("/admin/people/{id}/household/members/{member}/remove")
                .route(post().to(people::remove_household_member)),
        )
        .service(
            resource("/admin/apps")
                .route(get().to(apps::list))
                .route(post().to(apps::register)),
        )
        .service(resource("/admin/apps/{id}/rotate").route(post().to(apps::rotate_secret)))
        .service(resource("/admin/apps/{id}/disable").route(post().to(apps::disable)))
        .service(resource("/admin/keys").route(get().to(keys::list)))
        .service(resource("/admin/keys/rotate").route(post().to(keys::rotate)))
        .service(resource("/admin/audit").route(get().to(audit::list)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_services_refusal_names_the_field_with_its_underscores_as_spaces() {
        let t = PageText::fallback();
        let refusal = Problem::field("redirect_uri", "must use https".to_owned());
        assert_eq!(refusal.said(&t), "redirect uri: must use https");
    }

    #[test]
    fn a_refusal_with_a_number_follows_the_plural_rules() {
        let t = PageText::fallback();
        let limit = |count| Problem::Count("dash-person-profile-limit", count).said(&t);
        assert_eq!(limit(1), "Their plan allows 1 profile.");
        assert_eq!(limit(3), "Their plan allows 3 profiles.");
    }

    #[test]
    fn the_dashboard_speaks_english_left_to_right() {
        assert_eq!(language().tag(), "en");
        assert_eq!(language().dir(), "ltr");
    }
}
