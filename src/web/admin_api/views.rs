//! What the admin API sends and takes, with times as RFC 3339 text. The request bodies are
//! read field by field (`input.rs`); their types here describe them in the OpenAPI document.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::entitlements::Entitlements;
use crate::domain::households::Household;
use crate::foundation::store::entitlements::{AuditEntry, Grant, Product, Subscription, Tier};
use crate::foundation::store::profiles::Profile;
use crate::foundation::store::streams::Stream;
use crate::foundation::store::users::User;
use crate::foundation::time::rfc3339;

fn time(seconds: Option<i64>) -> Option<String> {
    seconds.map(rfc3339::format)
}

/// A subscription tier.
#[derive(Serialize, ToSchema)]
pub(crate) struct TierView {
    #[schema(example = "premium")]
    pub slug: String,
    #[schema(example = "Premium")]
    pub name: String,
    /// Higher is better; tiers are listed lowest first.
    #[schema(example = 20)]
    pub rank: i32,
    #[schema(example = json!(["hd", "4k", "ad_free"]))]
    pub features: Vec<String>,
    /// How many streams may play at once on an account of this tier; 0: no playback.
    #[schema(example = 4)]
    pub max_streams: i32,
    /// At the limit, `refuse` the new stream or `end_oldest`.
    #[schema(example = "refuse")]
    pub stream_limit_policy: String,
    /// How many devices may hold a sign-in at once; `null`: no limit.
    #[schema(example = 5)]
    pub max_devices: Option<i32>,
    /// How many profiles an account of this tier may have.
    #[schema(example = 5)]
    pub max_profiles: i32,
    /// How many people a subscriber may bring into their household; 0: no household.
    #[schema(example = 4)]
    pub max_members: i32,
}

impl From<&Tier> for TierView {
    fn from(tier: &Tier) -> Self {
        Self {
            slug: tier.slug.clone(),
            name: tier.name.clone(),
            rank: tier.rank,
            features: tier.features.clone(),
            max_streams: tier.max_streams,
            stream_limit_policy: tier.stream_limit_policy.clone(),
            max_devices: tier.max_devices,
            max_profiles: tier.max_profiles,
            max_members: tier.max_members,
        }
    }
}

/// A tier to create (`POST /tiers`) or its new description (`PUT /tiers/{slug}`).
#[expect(
    dead_code,
    reason = "only describes the body in the OpenAPI document: input.rs reads it"
)]
#[derive(ToSchema)]
pub(crate) struct TierBody {
    /// Required by `POST`: 1 to 64 lower-case letters, digits or dashes. `PUT` takes the slug
    /// from the path; one sent in the body must match it.
    #[schema(example = "premium")]
    pub slug: Option<String>,
    /// 1 to 100 printable characters: no control or invisible formatting characters (Unicode
    /// Cc and Cf, such as U+202E).
    #[schema(example = "Premium")]
    pub name: String,
    #[schema(example = 20)]
    pub rank: i32,
    /// At most 32 names of a-z, 0-9, `_`, `-`, `:`; absent means none.
    #[schema(example = json!(["hd", "4k", "ad_free"]))]
    pub features: Option<Vec<String>>,
    /// 0 to 1000; 0: no playback.
    #[schema(example = 4)]
    pub max_streams: i32,
    /// At the limit, `refuse` the new stream (the default) or `end_oldest`.
    #[schema(example = "refuse")]
    pub stream_limit_policy: Option<String>,
    /// 1 to 1000 devices signed in at once; absent or `null`: no limit.
    #[schema(example = 5)]
    pub max_devices: Option<i32>,
    /// 1 to 20 profiles per account; absent: 5.
    #[schema(example = 5)]
    pub max_profiles: Option<i32>,
    /// 0 to 100 people a subscriber may invite into their household (pending invitations
    /// count); absent: 0, no household.
    #[schema(example = 4)]
    pub max_members: Option<i32>,
}

/// A pay-per-view product.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProductView {
    #[schema(example = "final-match-2026")]
    pub slug: String,
    #[schema(example = "The Final, live")]
    pub title: String,
    /// Start of availability (RFC 3339); `null`: available from the start.
    #[schema(example = "2026-07-19T18:00:00Z", format = DateTime)]
    pub starts_at: Option<String>,
    /// End of availability (RFC 3339); `null`: no end.
    #[schema(example = "2026-07-20T06:00:00Z", format = DateTime)]
    pub ends_at: Option<String>,
    /// How long a grant without `valid_until` lasts; `null`: until revoked.
    #[schema(example = 48)]
    pub rental_hours: Option<i32>,
    /// Whether members of a holder's household may watch it too.
    pub household: bool,
}

impl From<&Product> for ProductView {
    fn from(product: &Product) -> Self {
        Self {
            slug: product.slug.clone(),
            title: product.title.clone(),
            starts_at: time(product.starts_at),
            ends_at: time(product.ends_at),
            rental_hours: product.rental_hours,
            household: product.household,
        }
    }
}

/// A product to create (`POST /products`) or its new description (`PUT /products/{slug}`,
/// which replaces every field: an absent one becomes `null`).
#[expect(
    dead_code,
    reason = "only describes the body in the OpenAPI document: input.rs reads it"
)]
#[derive(ToSchema)]
pub(crate) struct ProductBody {
    /// Required by `POST`; `PUT` takes it from the path (one sent must match).
    #[schema(example = "final-match-2026")]
    pub slug: Option<String>,
    /// 1 to 200 printable characters: no control or invisible formatting characters (Unicode
    /// Cc and Cf, such as U+202E).
    #[schema(example = "The Final, live")]
    pub title: String,
    #[schema(example = "2026-07-19T18:00:00Z", format = DateTime)]
    pub starts_at: Option<String>,
    /// After `starts_at`.
    #[schema(example = "2026-07-20T06:00:00Z", format = DateTime)]
    pub ends_at: Option<String>,
    /// 1 to 8760.
    #[schema(example = 48)]
    pub rental_hours: Option<i32>,
    /// Whether a holder's grant is shared with the members of their household; absent: false.
    pub household: Option<bool>,
}

/// Subscription statuses: every one but `canceled` gives the tier until `current_period_end`.
#[expect(
    dead_code,
    reason = "only describes the body in the OpenAPI document: input.rs reads it"
)]
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(crate) enum SubscriptionStatus {
    Active,
    Trialing,
    PastDue,
    Canceled,
}

/// A person's subscription.
#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriptionView {
    #[schema(example = "premium")]
    pub tier: String,
    #[schema(value_type = SubscriptionStatus, example = "active")]
    pub status: String,
    #[schema(example = "2026-08-01T00:00:00Z", format = DateTime)]
    pub current_period_end: String,
    /// The payment service's own reference.
    #[schema(example = "sub_1PqR2s")]
    pub external_ref: Option<String>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(subscription: &Subscription) -> Self {
        Self {
            tier: subscription.tier_slug.clone(),
            status: subscription.status.clone(),
            current_period_end: rfc3339::format(subscription.current_period_end),
            external_ref: subscription.external_ref.clone(),
        }
    }
}

/// A person's subscription as the payment service reports it; replaces any earlier one.
#[expect(
    dead_code,
    reason = "only describes the body in the OpenAPI document: input.rs reads it"
)]
#[derive(ToSchema)]
pub(crate) struct SubscriptionBody {
    /// The slug of an existing tier.
    #[schema(example = "premium")]
    pub tier: String,
    #[schema(value_type = SubscriptionStatus, example = "active")]
    pub status: String,
    #[schema(example = "2026-08-01T00:00:00Z", format = DateTime)]
    pub current_period_end: String,
    /// Up to 200 printable characters.
    #[schema(example = "sub_1PqR2s")]
    pub external_ref: Option<String>,
}

/// A product granted to a person.
#[derive(Serialize, ToSchema)]
pub(crate) struct GrantView {
    #[schema(example = "0b6d1c9e-3f3a-4a57-9d53-2f0a6c1d8e11")]
    pub id: String,
    #[schema(example = "final-match-2026")]
    pub product: String,
    #[schema(example = "2026-07-19T17:55:02Z", format = DateTime)]
    pub valid_from: String,
    /// `null`: until revoked (or the product's `ends_at`).
    #[schema(example = "2026-07-21T17:55:02Z", format = DateTime)]
    pub valid_until: Option<String>,
    #[schema(example = "pi_3NxY7a")]
    pub external_ref: Option<String>,
    /// When it was revoked; `null` while it stands.
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
}

impl From<&Grant> for GrantView {
    fn from(grant: &Grant) -> Self {
        Self {
            id: grant.id.clone(),
            product: grant.product_slug.clone(),
            valid_from: rfc3339::format(grant.valid_from),
            valid_until: time(grant.valid_until),
            external_ref: grant.external_ref.clone(),
            revoked_at: time(grant.revoked_at),
        }
    }
}

/// A product to grant. The same `external_ref` again returns the first grant (200) instead of
/// granting twice: payment webhooks are delivered more than once.
#[expect(
    dead_code,
    reason = "only describes the body in the OpenAPI document: input.rs reads it"
)]
#[derive(ToSchema)]
pub(crate) struct GrantBody {
    /// The slug of an existing product.
    #[schema(example = "final-match-2026")]
    pub product: String,
    /// Absent: now.
    #[schema(example = "2026-07-19T17:55:02Z", format = DateTime)]
    pub valid_from: Option<String>,
    /// Absent: `valid_from` plus the product's `rental_hours`, or no end.
    #[schema(format = DateTime)]
    pub valid_until: Option<String>,
    /// Unique across all grants; up to 200 printable characters.
    #[schema(example = "pi_3NxY7a")]
    pub external_ref: Option<String>,
}

/// A person with their subscription and every grant (newest first, revoked ones included).
#[derive(Serialize, ToSchema)]
pub(crate) struct UserView {
    #[schema(example = "6f0c2a52-8a8e-4f4e-9a53-0b1d7c9e2f10")]
    pub id: String,
    #[schema(example = "viewer@example.com")]
    pub email: String,
    pub name: Option<String>,
    pub subscription: Option<SubscriptionView>,
    pub grants: Vec<GrantView>,
}

impl UserView {
    pub(crate) fn new(user: User, subscription: Option<&Subscription>, grants: &[Grant]) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            subscription: subscription.map(SubscriptionView::from),
            grants: grants.iter().map(GrantView::from).collect(),
        }
    }
}

/// A product a person may watch now.
#[derive(Serialize, ToSchema)]
pub(crate) struct ActiveProductView {
    #[schema(example = "final-match-2026")]
    pub product: String,
    /// `null`: no end.
    #[schema(example = "2026-07-20T06:00:00Z", format = DateTime)]
    pub valid_until: Option<String>,
}

/// A person's entitlements now: what introspection of their tokens says.
#[derive(Serialize, ToSchema)]
pub(crate) struct EntitlementsView {
    /// `null` without a current subscription.
    #[schema(example = "premium")]
    pub tier: Option<String>,
    #[schema(example = json!(["hd", "4k", "ad_free"]))]
    pub features: Vec<String>,
    pub ppv: Vec<ActiveProductView>,
    /// Grows whenever the person's entitlements change.
    #[schema(example = 7)]
    pub ent_ver: i64,
    /// The holder of the household the person is a member of; absent when they are in none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household: Option<String>,
}

impl From<&Entitlements> for EntitlementsView {
    fn from(entitlements: &Entitlements) -> Self {
        Self {
            tier: entitlements.tier.clone(),
            features: entitlements.features.clone(),
            ppv: entitlements
                .ppv
                .iter()
                .map(|active| ActiveProductView {
                    product: active.product.clone(),
                    valid_until: time(active.valid_until),
                })
                .collect(),
            ent_ver: entitlements.ent_ver,
            household: entitlements.household.clone(),
        }
    }
}

/// A profile under an account; its PIN is never shown, only whether it has one.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProfileView {
    #[schema(example = "Zp3Xb1lQmWJ1o0p9yT2lA")]
    pub id: String,
    #[schema(example = "Ayesha")]
    pub name: String,
    /// `all`, `7`, `13`, `16` or `18`: the highest age rating the profile may watch.
    #[schema(example = "13")]
    pub maturity: String,
    pub kids: bool,
    pub has_pin: bool,
    /// The avatar's colour behind the name's initial.
    #[schema(example = "#1d4ed8")]
    pub color: String,
}

impl From<&Profile> for ProfileView {
    fn from(profile: &Profile) -> Self {
        Self {
            id: profile.id.clone(),
            name: profile.name.clone(),
            maturity: profile.maturity.clone(),
            kids: profile.kids,
            has_pin: profile.pin_hash.is_some(),
            color: profile.color.clone(),
        }
    }
}

/// A profile to add, or its new description.
#[expect(
    dead_code,
    reason = "only describes the body in the OpenAPI document: profiles.rs reads it"
)]
#[derive(ToSchema)]
pub(crate) struct ProfileBody {
    /// 1 to 50 printable characters.
    #[schema(example = "Ayesha")]
    pub name: String,
    /// `all` (the default), `7`, `13`, `16` or `18`.
    #[schema(example = "13")]
    pub maturity: Option<String>,
    /// Absent: false.
    pub kids: Option<bool>,
    /// Write-only: 4 digits set the PIN; `null` clears it; left out, `PUT` keeps it.
    #[schema(example = "4821")]
    pub pin: Option<String>,
}

/// A stream playing now.
#[derive(Serialize, ToSchema)]
pub(crate) struct StreamView {
    #[schema(example = "k3Jd8s0aQmWJ1o0p9yT2lA")]
    pub stream_id: String,
    /// The person watching: the account's holder or, on a family plan, a member.
    pub viewer_id: String,
    /// The content server that started it.
    pub client_id: String,
    #[schema(example = "living-room-tv")]
    pub device_id: String,
    #[schema(example = "The Final, live")]
    pub content: Option<String>,
    #[schema(example = "2026-07-19T18:02:11Z", format = DateTime)]
    pub started_at: String,
    /// When the stream ends unless a heartbeat comes first.
    #[schema(example = "2026-07-19T18:03:41Z", format = DateTime)]
    pub expires_at: String,
}

impl From<&Stream> for StreamView {
    fn from(stream: &Stream) -> Self {
        Self {
            stream_id: stream.id.clone(),
            viewer_id: stream.viewer_id.clone(),
            client_id: stream.client_id.clone(),
            device_id: stream.device_id.clone(),
            content: stream.content.clone(),
            started_at: rfc3339::format(stream.started_at),
            expires_at: rfc3339::format(stream.expires_at),
        }
    }
}

/// One change in the audit log.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditEntryView {
    /// Grows with every entry; pass the last one seen as `before_id` for the next page.
    #[schema(example = 42)]
    pub id: i64,
    #[schema(example = "2026-07-19T17:55:02Z", format = DateTime)]
    pub at: String,
    /// `client:CLIENT_ID` (through this API), `admin:USER_ID` or `cli` (the command line).
    #[schema(example = "client:payments")]
    pub actor: String,
    /// Entitlement changes: `tier.create`, `tier.update`, `tier.delete`, `product.create`,
    /// `product.update`, `product.delete`, `subscription.put`, `subscription.delete`,
    /// `grant.create`, `grant.revoke`. From the command line: `client.create`, `user.create`,
    /// `keys.rotate`, `webhook.register`, `webhook.remove`.
    #[schema(example = "grant.create")]
    pub action: String,
    /// The person changed; `null` for catalogue changes.
    pub user_id: Option<String>,
    /// What changed: a tier or product slug, a person's or client's id.
    pub target: String,
    /// The state before the change (`null` when created), times as RFC 3339.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The state after the change (`null` when deleted), times as RFC 3339.
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

/// Fields of the recorded states that hold Unix seconds.
const TIME_FIELDS: [&str; 6] = [
    "starts_at",
    "ends_at",
    "current_period_end",
    "valid_from",
    "valid_until",
    "revoked_at",
];

/// A recorded state as the API shows it. The log keeps what the service recorded, with Unix
/// seconds; the API speaks RFC 3339 everywhere, so those fields are converted on the way out.
/// Text that is not JSON (never written by Usher) is shown as it is.
fn recorded_state(text: Option<&str>) -> Option<Value> {
    let text = text?;
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return Some(Value::String(text.to_owned()));
    };
    if let Value::Object(fields) = &mut value {
        for field in TIME_FIELDS {
            if let Some(slot) = fields.get_mut(field)
                && let Some(seconds) = slot.as_i64()
            {
                *slot = Value::String(rfc3339::format(seconds));
            }
        }
    }
    Some(value)
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(entry: &AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: rfc3339::format(entry.at),
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            user_id: entry.user_id.clone(),
            target: entry.target.clone(),
            before: recorded_state(entry.before.as_deref()),
            after: recorded_state(entry.after.as_deref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_times_are_shown_as_rfc3339() {
        let state = recorded_state(Some(r#"{"product":"p","valid_from":0,"valid_until":null}"#));
        assert_eq!(
            state,
            Some(
                serde_json::json!({"product": "p", "valid_from": "1970-01-01T00:00:00Z", "valid_until": null})
            )
        );
        assert_eq!(recorded_state(None), None);
        assert_eq!(
            recorded_state(Some("not json")),
            Some(Value::String("not json".into()))
        );
    }
}

/// A member of a household.
#[derive(Serialize, ToSchema)]
pub(crate) struct HouseholdMemberView {
    pub user_id: String,
    #[schema(example = "sam@example.com")]
    pub email: String,
    #[schema(example = "2026-07-19T18:02:11Z", format = DateTime)]
    pub joined_at: String,
}

/// An invitation into a household not yet accepted; its link is never shown.
#[derive(Serialize, ToSchema)]
pub(crate) struct HouseholdInvitationView {
    pub id: String,
    #[schema(example = "alex@example.com")]
    pub email: String,
    #[schema(example = "2026-07-19T18:02:11Z", format = DateTime)]
    pub created_at: String,
    #[schema(example = "2026-07-26T18:02:11Z", format = DateTime)]
    pub expires_at: String,
}

/// A household (family plan): its holder, members and open invitations.
#[derive(Serialize, ToSchema)]
pub(crate) struct HouseholdView {
    pub holder_id: String,
    #[schema(example = "ada@example.com")]
    pub holder_email: String,
    /// The places the holder's plan gives, members and open invitations together.
    #[schema(example = 4)]
    pub max_members: i32,
    pub members: Vec<HouseholdMemberView>,
    pub invitations: Vec<HouseholdInvitationView>,
}

impl From<&Household> for HouseholdView {
    fn from(household: &Household) -> Self {
        Self {
            holder_id: household.holder_id.clone(),
            holder_email: household.holder_email.clone(),
            max_members: household.max_members,
            members: household
                .members
                .iter()
                .map(|member| HouseholdMemberView {
                    user_id: member.user_id.clone(),
                    email: member.email.clone(),
                    joined_at: rfc3339::format(member.joined_at),
                })
                .collect(),
            invitations: household
                .invitations
                .iter()
                .map(|invitation| HouseholdInvitationView {
                    id: invitation.id.clone(),
                    email: invitation.email.clone(),
                    created_at: rfc3339::format(invitation.created_at),
                    expires_at: rfc3339::format(invitation.expires_at),
                })
                .collect(),
        }
    }
}
