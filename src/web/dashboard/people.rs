//! People: search by email; a person's subscription, grants, sessions, streams, passkeys and
//! second factors; and the changes an administrator makes for them, each audited with the
//! administrator as actor.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::entitlements::manage::{self, Actor, EntitlementError, GrantInput, SubscriptionInput};
use crate::domain::households::{self, Household, HouseholdError};
use crate::domain::identity::people::{self, AccountAction, ActionOutcome};
use crate::domain::profiles::{self, ProfileError, ProfileInput};
use crate::domain::streams::{self, StopBy};
use crate::foundation::i18n::Locale;
use crate::foundation::store::entitlements::{self as entitlement_store, Product, Tier};
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError, dashboard, passkeys, sessions, totp};
use crate::foundation::time::format_utc;
use crate::web::account::describe_device;
use crate::web::account::profiles::{self as account_profiles, ProfileListing};
use crate::web::dashboard::charts::escape;
use crate::web::dashboard::products::{describe_grant_state, describe_window, minute_value, parse_minute};
use crate::web::dashboard::{Admin, Notice, Problem, SignedInAs, done, notice, problem, render_with};
use crate::web::extractors::AdminForm;
use crate::web::form::query_param;
use crate::web::i18n::PageText;
use crate::web::pages::PageError;
use crate::web::state::AppState;

const PAGE_SIZE: i64 = 50;
/// A new subscription's period, when the form leaves it as it is.
const DEFAULT_PERIOD_DAYS: i64 = 30;

/// A person in the search results.
pub(crate) struct PersonRow {
    pub id: String,
    pub email: String,
    pub name: String,
    /// The message noting a disabled account or an administrator.
    pub note: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "admin/people.html")]
struct ListPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    search: String,
    people: Vec<PersonRow>,
    /// The "next page" link's `after`, when there may be more.
    next_after: Option<String>,
}

/// A grant as the person's page lists it.
pub(crate) struct GrantLine {
    pub id: String,
    pub product: String,
    pub valid: String,
    pub state: String,
    pub revocable: bool,
}

/// A session as the person's page lists it.
pub(crate) struct SessionLine {
    pub device: String,
    pub signed_in: String,
    /// The messages naming how it signed in, in order.
    pub methods: Vec<&'static str>,
}

/// A stream playing on the person's account, as their page lists it.
pub(crate) struct StreamLine {
    pub id: String,
    pub device: String,
    pub content: Option<String>,
    pub started: String,
}

/// The household a person holds or belongs to, as their page shows it.
pub(crate) struct HouseholdLines {
    pub holder_id: String,
    /// The person is a member, not the holder.
    pub is_member: bool,
    /// Id, email and when they joined.
    pub members: Vec<(String, String, String)>,
    /// Email and when the invitation expires.
    pub invitations: Vec<(String, String)>,
    /// For a member: whose family it is, as HTML linking to the holder's page.
    pub member_of: String,
    /// For the holder: how many members and open invitations of how many places.
    pub summary: String,
}

impl HouseholdLines {
    fn new(t: &PageText, household: Household, user_id: &str) -> Self {
        let holder = format!(
            "<a href=\"{}\">{}</a>",
            escape(&person_path(&household.holder_id)),
            escape(&household.holder_email)
        );
        let count = |id: &str, count: usize| t.count(id, i64::try_from(count).unwrap_or(i64::MAX));
        let summary = t.locale.with_all(
            "dash-family-holds",
            &[
                ("members", &count("dash-family-members", household.members.len())),
                (
                    "invitations",
                    &count("dash-family-open-invitations", household.invitations.len()),
                ),
                (
                    "places",
                    &t.count("dash-family-places", household.max_members.into()),
                ),
            ],
        );
        Self {
            member_of: t.with("dash-family-member-of", "holder", &holder),
            summary,
            is_member: household.holder_id != user_id,
            holder_id: household.holder_id,
            members: household
                .members
                .into_iter()
                .map(|member| (member.user_id, member.email, format_utc(member.joined_at)))
                .collect(),
            invitations: household
                .invitations
                .into_iter()
                .map(|invitation| (invitation.email, format_utc(invitation.expires_at)))
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/person.html")]
struct PersonPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    csrf: String,
    person: User,
    created: String,
    tier: Option<String>,
    status: String,
    period_end: String,
    tiers: Vec<Tier>,
    statuses: &'static [&'static str],
    products: Vec<Product>,
    grants: Vec<GrantLine>,
    sessions: Vec<SessionLine>,
    streams: Vec<StreamLine>,
    passkeys: Vec<String>,
    totp_since: Option<String>,
    ent_ver: i64,
    household: Option<HouseholdLines>,
    profiles: Vec<ProfileListing>,
    maturities: Vec<(&'static str, String)>,
}

/// `GET /admin/people?email=…&after=…`.
pub(crate) async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    let search: String = query_param(&request, "email")
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let after = query_param(&request, "after");
    let (text, from) = (search.clone(), after.clone());
    let mut found = state
        .store
        .run(move |conn| dashboard::search_people(conn, &text, from.as_deref(), PAGE_SIZE + 1))
        .await?;
    let more = found.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
    let next_after = more
        .then(|| found.last().map(|user| user.email.clone()))
        .flatten();
    let page = ListPage {
        t: admin.text(),
        section: "people",
        signed_in_as: admin.signed_in_as(),
        notice: notice(&request),
        problem: None,
        search,
        people: found
            .into_iter()
            .map(|user| PersonRow {
                note: if user.disabled_at.is_some() {
                    Some("dash-people-disabled")
                } else if user.is_admin {
                    Some("dash-people-administrator")
                } else {
                    None
                },
                name: user.name.unwrap_or_default(),
                id: user.id,
                email: user.email,
            })
            .collect(),
        next_after,
    };
    render_with(admin, StatusCode::OK, &page)
}

/// The messages naming a session's sign-in methods (`amr`), in order.
fn describe_methods(amr: &[String]) -> Vec<&'static str> {
    amr.iter()
        .filter_map(|method| match method.as_str() {
            "pwd" => Some("dash-sign-in-password"),
            "email" => Some("dash-sign-in-link"),
            "otp" => Some("dash-sign-in-code"),
            "hwk" | "swk" => Some("dash-sign-in-passkey"),
            _ => None,
        })
        .collect()
}

async fn person_page(
    state: &AppState,
    admin: Admin,
    status: StatusCode,
    user_id: String,
    notice: Option<&'static str>,
    problem: Option<Problem>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let loaded = state
        .store
        .run(move |conn| {
            let Some(person) = users::find_by_id(conn, &user_id)? else {
                return Ok::<_, StoreError>(None);
            };
            Ok(Some((
                entitlement_store::find_subscription(conn, &user_id)?,
                entitlement_store::list_tiers(conn)?,
                entitlement_store::list_products(conn)?,
                entitlement_store::list_grants(conn, &user_id)?,
                sessions::list_live_for_user(conn, &user_id, now)?,
                streams::playing(conn, &user_id, now)?,
                passkeys::list_for_user(conn, &user_id)?,
                totp::find(conn, &user_id)?.and_then(|credential| credential.confirmed_at),
                entitlement_store::version(conn, &user_id)?,
                households::household_of(conn, &user_id, now)?,
                account_profiles::list(conn, &user_id)?,
                person,
            )))
        })
        .await?;
    let Some((
        subscription,
        tiers,
        products,
        grants,
        live,
        playing,
        keys,
        totp_since,
        ent_ver,
        household,
        profiles,
        person,
    )) = loaded
    else {
        return Err(PageError::not_found());
    };
    let t = admin.text();
    let page = PersonPage {
        section: "people",
        signed_in_as: admin.signed_in_as(),
        notice,
        problem: problem.map(|problem| problem.said(&t)),
        csrf: admin.csrf_value(),
        created: format_utc(person.created_at),
        tier: subscription
            .as_ref()
            .map(|subscription| subscription.tier_slug.clone()),
        status: subscription
            .as_ref()
            .map_or_else(|| "active".to_owned(), |subscription| subscription.status.clone()),
        period_end: minute_value(
            subscription
                .as_ref()
                .map_or(now + DEFAULT_PERIOD_DAYS * 86_400, |subscription| {
                    subscription.current_period_end
                }),
        ),
        tiers,
        statuses: &crate::domain::entitlements::STATUSES,
        grants: grants
            .iter()
            .map(|grant| GrantLine {
                id: grant.id.clone(),
                product: grant.product_slug.clone(),
                valid: describe_window(&t, Some(grant.valid_from), grant.valid_until),
                // A product with grants cannot be deleted, so each grant finds its own.
                state: products
                    .iter()
                    .find(|product| product.slug == grant.product_slug)
                    .map_or_else(String::new, |product| {
                        describe_grant_state(&t, grant, product, now)
                    }),
                revocable: grant.revoked_at.is_none(),
            })
            .collect(),
        products: products
            .into_iter()
            .filter(|product| product.ends_at.is_none_or(|ends| ends > now))
            .collect(),
        sessions: live
            .iter()
            .map(|session| SessionLine {
                device: describe_device(&session.user_agent, Locale::default()),
                signed_in: format_utc(session.created_at),
                methods: describe_methods(&session.amr),
            })
            .collect(),
        streams: playing
            .into_iter()
            .map(|stream| StreamLine {
                started: format_utc(stream.started_at),
                id: stream.id,
                device: stream.device_id,
                content: stream.content,
            })
            .collect(),
        passkeys: keys.into_iter().map(|key| key.name).collect(),
        totp_since: totp_since.map(format_utc),
        ent_ver,
        household: household.map(|household| HouseholdLines::new(&t, household, &person.id)),
        profiles,
        maturities: account_profiles::maturity_choices(Locale::default()),
        person,
        t,
    };
    render_with(admin, status, &page)
}

/// `GET /admin/people/{id}`.
pub(crate) async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
    user_id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    person_page(
        &state,
        admin,
        StatusCode::OK,
        user_id.into_inner(),
        notice(&request),
        None,
    )
    .await
}

fn person_path(user_id: &str) -> String {
    format!("/admin/people/{user_id}")
}

/// Runs an entitlement change for the person and answers: back to their page with `notice`,
/// or the page again naming what was wrong.
async fn entitlement_change<T: Send + 'static>(
    state: &AppState,
    admin: Admin,
    user_id: String,
    notice: Notice,
    change: impl FnOnce(&mut DbConnection, &Actor, &str, i64) -> Result<T, EntitlementError> + Send + 'static,
) -> Result<HttpResponse, PageError> {
    let (actor, target, now) = (admin.actor(), user_id.clone(), state.clock.now());
    let outcome = state
        .store
        .run(move |conn| Ok::<_, StoreError>(change(conn, &actor, &target, now)))
        .await?;
    match outcome {
        Ok(_) => {
            state.entitlements.invalidate(&user_id);
            Ok(done(&person_path(&user_id), notice))
        }
        Err(error) => {
            let message = problem(error)?;
            person_page(
                state,
                admin,
                StatusCode::UNPROCESSABLE_ENTITY,
                user_id,
                None,
                Some(message),
            )
            .await
        }
    }
}

/// `POST /admin/people/{id}/subscription`: give the person a tier (or change its status).
pub(crate) async fn set_tier(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, form }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let user_id = user_id.into_inner();
    let Some(period_end) = parse_minute(form.get("current_period_end").unwrap_or_default()) else {
        let message = Problem::Said("dash-person-period-end-invalid");
        return person_page(
            &state,
            admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            user_id,
            None,
            Some(message),
        )
        .await;
    };
    let input = SubscriptionInput {
        tier: form.get("tier").unwrap_or_default().to_owned(),
        status: form.get("status").unwrap_or_default().to_owned(),
        current_period_end: period_end,
        external_ref: None,
    };
    entitlement_change(
        &state,
        admin,
        user_id,
        Notice::SubscriptionSet,
        move |conn, actor, user_id, now| manage::put_subscription(conn, actor, user_id, &input, now),
    )
    .await
}

/// `POST /admin/people/{id}/subscription/end`.
pub(crate) async fn end_subscription(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    entitlement_change(
        &state,
        admin,
        user_id.into_inner(),
        Notice::SubscriptionEnded,
        manage::end_subscription,
    )
    .await
}

/// `POST /admin/people/{id}/grants`: give the person a pay-per-view product.
pub(crate) async fn grant(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, form }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let user_id = user_id.into_inner();
    let valid_until = match form.get("valid_until").unwrap_or_default() {
        "" => None,
        text => match parse_minute(text) {
            Some(until) => Some(until),
            None => {
                let message = Problem::Said("dash-person-grant-until-invalid");
                return person_page(
                    &state,
                    admin,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    user_id,
                    None,
                    Some(message),
                )
                .await;
            }
        },
    };
    let input = GrantInput {
        product: form.get("product").unwrap_or_default().to_owned(),
        valid_from: None,
        valid_until,
        external_ref: None,
    };
    entitlement_change(
        &state,
        admin,
        user_id,
        Notice::ProductGranted,
        move |conn, actor, user_id, now| manage::grant_product(conn, actor, user_id, &input, now),
    )
    .await
}

/// `POST /admin/people/{id}/grants/{grant}/revoke`.
pub(crate) async fn revoke_grant(
    state: web::Data<AppState>,
    _request: HttpRequest,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let (user_id, grant_id) = path.into_inner();
    entitlement_change(
        &state,
        admin,
        user_id,
        Notice::GrantRevoked,
        move |conn, actor, user_id, now| manage::revoke_grant(conn, actor, user_id, &grant_id, now),
    )
    .await
}

/// `POST /admin/people/{id}/streams/{stream}/stop`: the stream ends at once on every instance
/// and its player stops at its next heartbeat. Audited.
pub(crate) async fn stop_stream(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let (user_id, stream_id) = path.into_inner();
    let (core, actor, person) = (Arc::clone(&state.core), admin.actor(), user_id.clone());
    let stopped = state
        .store
        .run(move |conn| {
            let by = StopBy::Admin {
                actor: &actor,
                user_id: &person,
            };
            streams::stop(conn, &core.streams, by, &stream_id, core.clock.now())
        })
        .await?;
    let notice = if stopped {
        Notice::StreamStopped
    } else {
        Notice::StreamAlreadyOver
    };
    Ok(done(&person_path(&user_id), notice))
}

/// `POST /admin/people/{holder}/household/members/{member}/remove`: what the member shared
/// with the household is gone at once on every instance. Audited.
pub(crate) async fn remove_household_member(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let (holder_id, member_id) = path.into_inner();
    let (core, actor, holder, member) = (
        Arc::clone(&state.core),
        admin.actor(),
        holder_id.clone(),
        member_id.clone(),
    );
    let removed = state
        .store
        .run(move |conn| {
            Ok::<_, StoreError>(households::remove_member(
                conn,
                &actor,
                &holder,
                &member,
                core.clock.now(),
            ))
        })
        .await?;
    match removed {
        Ok(()) => {
            state.entitlements.invalidate(&member_id);
            Ok(done(&person_path(&holder_id), Notice::MemberRemoved))
        }
        Err(HouseholdError::Store(error)) => Err(error.into()),
        Err(_) => Err(PageError::not_found()),
    }
}

/// The person's page again, saying why a profile change was refused; `Ok` after the change.
async fn profile_change(
    state: &AppState,
    admin: Admin,
    user_id: String,
    notice: Notice,
    outcome: Result<(), ProfileError>,
) -> Result<HttpResponse, PageError> {
    let message = match outcome {
        Ok(()) => return Ok(done(&person_path(&user_id), notice)),
        Err(ProfileError::Invalid { field, message }) => Problem::field(field, message),
        Err(ProfileError::LimitReached(max)) => Problem::Count("dash-person-profile-limit", max.into()),
        Err(ProfileError::NotFound(what)) => Problem::NoSuch(what.to_string()),
        Err(ProfileError::Busy) => return Err(PageError::busy()),
        Err(ProfileError::Store(error)) => return Err(error.into()),
    };
    person_page(
        state,
        admin,
        StatusCode::UNPROCESSABLE_ENTITY,
        user_id,
        None,
        Some(message),
    )
    .await
}

/// `POST /admin/people/{id}/profiles`: a profile for the person (name, age rating, kids).
/// Audited; the account holder is told by mail.
pub(crate) async fn add_profile(
    state: web::Data<AppState>,
    user_id: web::Path<String>,
    AdminForm { admin, form }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let user_id = user_id.into_inner();
    let input = ProfileInput {
        name: form.get("name").unwrap_or_default().to_owned(),
        maturity: form.get("maturity").map(str::to_owned),
        kids: form.get("kids") == Some("on"),
        ..ProfileInput::default()
    };
    let outcome = profiles::create(&state.core, &admin.actor(), &user_id, input)
        .await
        .map(drop);
    profile_change(&state, admin, user_id, Notice::ProfileAdded, outcome).await
}

/// `POST /admin/people/{id}/profiles/{profile}/delete`. Audited; the holder is told by mail.
pub(crate) async fn delete_profile(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let (user_id, profile_id) = path.into_inner();
    let outcome = profiles::delete(&state.core, &admin.actor(), &user_id, &profile_id).await;
    profile_change(&state, admin, user_id, Notice::ProfileDeleted, outcome).await
}

/// `POST /admin/people/{id}/profiles/{profile}/pin/clear`: for a family that forgot a PIN.
/// Audited; the holder is told by mail.
pub(crate) async fn clear_profile_pin(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let (user_id, profile_id) = path.into_inner();
    let outcome = profiles::clear_pin(&state.core, &admin.actor(), &user_id, &profile_id)
        .await
        .map(drop);
    profile_change(&state, admin, user_id, Notice::ProfilePinCleared, outcome).await
}

/// Applies an administrator's action to the person and answers with their page.
async fn account_change(
    state: &AppState,
    admin: Admin,
    user_id: String,
    action: AccountAction,
    notice: Notice,
) -> Result<HttpResponse, PageError> {
    match people::act_on(&state.core, &admin.actor(), &user_id, action).await? {
        ActionOutcome::Done => Ok(done(&person_path(&user_id), notice)),
        ActionOutcome::NoSuchPerson => Err(PageError::not_found()),
        ActionOutcome::OwnAccount => {
            let message = Problem::Said(match action {
                AccountAction::RemoveAdmin => "dash-person-own-admin",
                _ => "dash-person-own-account",
            });
            person_page(state, admin, StatusCode::CONFLICT, user_id, None, Some(message)).await
        }
    }
}

/// `POST /admin/people/{id}/sign-out`: every session and app token of the person ends.
pub(crate) async fn sign_out(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    account_change(
        &state,
        admin,
        user_id.into_inner(),
        AccountAction::SignOutEverywhere,
        Notice::SignedOutEverywhere,
    )
    .await
}

/// `POST /admin/people/{id}/disable`: the account can no longer sign in, and is signed out.
pub(crate) async fn disable(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    account_change(
        &state,
        admin,
        user_id.into_inner(),
        AccountAction::Disable,
        Notice::AccountDisabled,
    )
    .await
}

/// `POST /admin/people/{id}/enable`.
pub(crate) async fn enable(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    account_change(
        &state,
        admin,
        user_id.into_inner(),
        AccountAction::Enable,
        Notice::AccountEnabled,
    )
    .await
}

/// `POST /admin/people/{id}/second-factor/reset`: for a person who lost their authenticator
/// app: two-step sign-in is turned off and the recovery codes go.
pub(crate) async fn reset_second_factor(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    account_change(
        &state,
        admin,
        user_id.into_inner(),
        AccountAction::ResetSecondFactor,
        Notice::TwoStepReset,
    )
    .await
}

/// `POST /admin/people/{id}/admin`: the person may open the dashboard.
pub(crate) async fn make_admin(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    account_change(
        &state,
        admin,
        user_id.into_inner(),
        AccountAction::MakeAdmin,
        Notice::MadeAdmin,
    )
    .await
}

/// `POST /admin/people/{id}/admin/remove`: not for one's own account.
pub(crate) async fn remove_admin(
    state: web::Data<AppState>,
    _request: HttpRequest,
    user_id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    account_change(
        &state,
        admin,
        user_id.into_inner(),
        AccountAction::RemoveAdmin,
        Notice::AdminRemoved,
    )
    .await
}
