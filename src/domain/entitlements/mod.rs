//! What a person may watch or hear: their subscription tier and its features, and the
//! pay-per-view products granted to them, as they are at a given moment.
//!
//! `compute` reads them from the database; [`cache::EntitlementCache`] keeps the answer in
//! memory for the introspection hot path until a change (announced on the change feed) or
//! the clock (a period ending, a rental starting or expiring) makes it stale.

pub(crate) mod cache;
pub mod manage;

use serde::Serialize;

use crate::foundation::store::entitlements::{self as store, Grant, Product, Subscription, Tier};
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::store::{households, profiles};

/// Subscription statuses; `canceled` gives nothing, the others give the tier until the end of
/// the current period.
pub(crate) const STATUSES: [&str; 4] = ["active", "trialing", "past_due", "canceled"];

/// A product the person may watch now, and until when (`None`: no end).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActiveProduct {
    pub product: String,
    pub valid_until: Option<i64>,
}

/// How many streams a person without a current subscription (pay-per-view only) may play at
/// once.
pub const STREAMS_WITHOUT_TIER: i32 = 1;

/// How many profiles a person without a current subscription may have.
pub const PROFILES_WITHOUT_TIER: i32 = 1;

/// What a stream start does when the account already plays `max_streams` streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LimitPolicy {
    /// The new stream is refused with the list of streams in use.
    #[default]
    Refuse,
    /// The oldest stream ends to make room.
    EndOldest,
}

impl LimitPolicy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "refuse" => Some(Self::Refuse),
            "end_oldest" => Some(Self::EndOldest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::EndOldest => "end_oldest",
        }
    }
}

/// A profile's maturity ceiling as it is now: what a token speaking for the profile may show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileCeiling {
    pub id: String,
    pub maturity: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entitlements {
    pub tier: Option<String>,
    pub features: Vec<String>,
    pub ppv: Vec<ActiveProduct>,
    pub ent_ver: i64,
    /// How many streams may play at once: the tier's, or [`STREAMS_WITHOUT_TIER`].
    pub max_streams: i32,
    pub stream_limit_policy: LimitPolicy,
    /// How many devices may hold a sign-in at once; `None`: no limit.
    pub max_devices: Option<i32>,
    /// How many profiles the account may have: the tier's, or [`PROFILES_WITHOUT_TIER`].
    pub max_profiles: i32,
    /// How many people the person may bring into a household: their own tier's; 0 for a
    /// member of someone else's.
    pub max_members: i32,
    /// The holder of the household the person is a member of.
    pub household: Option<String>,
    /// Whether the tier is the household holder's (the member has no current subscription of
    /// their own): their streams then count against the holder's account.
    pub tier_from_household: bool,
    /// The account's profiles: a parent lowering one's maturity acts on its tokens at once.
    pub profiles: Vec<ProfileCeiling>,
    /// When this answer changes by the clock alone: the earliest period end, grant start or
    /// grant end still ahead. `None` when nothing is scheduled.
    pub changes_at: Option<i64>,
}

impl Entitlements {
    /// The account whose streams the person's count against: the holder's when the tier is
    /// theirs, else the person's own.
    pub fn stream_account<'a>(&'a self, user_id: &'a str) -> &'a str {
        match (&self.household, self.tier_from_household) {
            (Some(holder), true) => holder,
            _ => user_id,
        }
    }
}

/// Whether a subscription gives its tier at `now`.
pub(crate) fn subscription_is_current(subscription: &Subscription, now: i64) -> bool {
    subscription.status != "canceled" && subscription.current_period_end > now
}

/// The window in which a grant gives its product: the grant's own, within the product's
/// availability.
fn grant_window(grant: &Grant, product: &Product) -> (i64, Option<i64>) {
    let starts = product
        .starts_at
        .map_or(grant.valid_from, |starts| starts.max(grant.valid_from));
    let ends = match (grant.valid_until, product.ends_at) {
        (Some(until), Some(ends)) => Some(until.min(ends)),
        (until, ends) => until.or(ends),
    };
    (starts, ends)
}

/// Where a grant stands at a moment: the one rule the entitlements (and so introspection, the
/// admin API and tokens) and the dashboard's pages share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GrantState {
    /// Gives its product now, until `until` (`None`: no end).
    Active {
        until: Option<i64>,
    },
    /// The product is not on sale yet: the grant gives it from `starts`.
    NotYetOnSale {
        starts: i64,
    },
    /// The grant itself starts later, at `starts`.
    Starts {
        starts: i64,
    },
    /// Its own end or the product's has passed.
    Ended,
    Revoked,
}

/// Where `grant` of `product` stands at `now`.
pub(crate) fn grant_state(grant: &Grant, product: &Product, now: i64) -> GrantState {
    if grant.revoked_at.is_some() {
        return GrantState::Revoked;
    }
    let (starts, ends) = grant_window(grant, product);
    if ends.is_some_and(|ends| ends <= now) {
        GrantState::Ended
    } else if starts > now && product.starts_at == Some(starts) {
        GrantState::NotYetOnSale { starts }
    } else if starts > now {
        GrantState::Starts { starts }
    } else {
        GrantState::Active { until: ends }
    }
}

/// The person's tier at `now`, when a current subscription gives one, and when it ends.
fn current_tier(conn: &mut DbConnection, user_id: &str, now: i64) -> Result<Option<(Tier, i64)>, StoreError> {
    let Some(subscription) = store::find_subscription(conn, user_id)? else {
        return Ok(None);
    };
    if !subscription_is_current(&subscription, now) {
        return Ok(None);
    }
    Ok(store::find_tier(conn, &subscription.tier_slug)?.map(|tier| (tier, subscription.current_period_end)))
}

/// Computes a person's entitlements at `now`. A member of a household without a current
/// subscription of their own has the holder's tier, and every member the holder's products
/// marked `household`.
pub fn compute(conn: &mut DbConnection, user_id: &str, now: i64) -> Result<Entitlements, StoreError> {
    let household = households::holder_of(conn, user_id)?;
    let mut entitlements = Entitlements {
        ent_ver: store::version(conn, user_id)?,
        ..Entitlements::default()
    };
    let mut schedule = |at: i64| {
        if at > now {
            entitlements.changes_at = Some(
                entitlements
                    .changes_at
                    .map_or(at, |earliest: i64| earliest.min(at)),
            );
        }
    };
    let mut tier_from_household = false;
    let mut tier = current_tier(conn, user_id, now)?;
    if tier.is_none()
        && let Some(holder) = &household
    {
        tier = current_tier(conn, holder, now)?;
        tier_from_household = tier.is_some();
    }
    let tier = tier.map(|(tier, period_end)| {
        schedule(period_end);
        tier
    });
    let mut grants = store::live_grants_with_products(conn, user_id)?;
    if let Some(holder) = &household {
        grants.extend(
            store::live_grants_with_products(conn, holder)?
                .into_iter()
                .filter(|(_, product)| product.household),
        );
        grants.sort_by(|(_, one), (_, other)| one.slug.cmp(&other.slug));
    }
    let mut ppv = Vec::new();
    for (grant, product) in grants {
        match grant_state(&grant, &product, now) {
            GrantState::NotYetOnSale { starts } | GrantState::Starts { starts } => schedule(starts),
            GrantState::Ended | GrantState::Revoked => {}
            GrantState::Active { until: ends } => {
                if let Some(ends) = ends {
                    schedule(ends);
                }
                // Two grants of one product: it lasts as long as the longer one.
                match ppv
                    .iter_mut()
                    .find(|active: &&mut ActiveProduct| active.product == product.slug)
                {
                    Some(active) => {
                        active.valid_until = active.valid_until.zip(ends).map(|(one, other)| one.max(other));
                    }
                    None => ppv.push(ActiveProduct {
                        product: product.slug,
                        valid_until: ends,
                    }),
                }
            }
        }
    }
    let changes_at = entitlements.changes_at;
    Ok(Entitlements {
        features: tier
            .as_ref()
            .map(|tier| tier.features.clone())
            .unwrap_or_default(),
        max_streams: tier
            .as_ref()
            .map_or(STREAMS_WITHOUT_TIER, |tier| tier.max_streams),
        stream_limit_policy: tier
            .as_ref()
            .and_then(|tier| LimitPolicy::parse(&tier.stream_limit_policy))
            .unwrap_or_default(),
        max_devices: tier.as_ref().and_then(|tier| tier.max_devices),
        max_profiles: tier
            .as_ref()
            .map_or(PROFILES_WITHOUT_TIER, |tier| tier.max_profiles),
        max_members: match (&tier, &household) {
            (Some(tier), None) => tier.max_members,
            _ => 0,
        },
        tier: tier.map(|tier| tier.slug),
        household,
        tier_from_household,
        profiles: profiles::of_user(conn, user_id)?
            .into_iter()
            .map(|profile| ProfileCeiling {
                id: profile.id,
                maturity: profile.maturity,
            })
            .collect(),
        ppv,
        changes_at,
        ..entitlements
    })
}

/// The entitlement claims of an access token (docs/entitlements.md): at most `cap` products, with
/// `ppv_overflow` when there are more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct AccessTokenEntitlements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    pub features: Vec<String>,
    pub ppv: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub ppv_overflow: bool,
    pub ent_ver: i64,
}

impl AccessTokenEntitlements {
    pub(crate) fn new(entitlements: &Entitlements, cap: usize) -> Self {
        Self {
            tier: entitlements.tier.clone(),
            features: entitlements.features.clone(),
            ppv: entitlements
                .ppv
                .iter()
                .take(cap)
                .map(|active| active.product.clone())
                .collect(),
            ppv_overflow: entitlements.ppv.len() > cap,
            ent_ver: entitlements.ent_ver,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(valid_from: i64, valid_until: Option<i64>) -> Grant {
        Grant {
            id: "g".into(),
            user_id: "u".into(),
            product_slug: "p".into(),
            valid_from,
            valid_until,
            external_ref: None,
            revoked_at: None,
            created_at: 0,
        }
    }

    fn product(starts_at: Option<i64>, ends_at: Option<i64>) -> Product {
        Product {
            slug: "p".into(),
            title: "P".into(),
            starts_at,
            ends_at,
            rental_hours: None,
            created_at: 0,
            updated_at: 0,
            household: false,
        }
    }

    #[test]
    fn a_grant_gives_its_product_only_inside_the_products_availability() {
        assert_eq!(
            grant_window(&grant(10, Some(100)), &product(Some(20), Some(50))),
            (20, Some(50))
        );
        assert_eq!(
            grant_window(&grant(10, None), &product(None, Some(50))),
            (10, Some(50))
        );
        assert_eq!(
            grant_window(&grant(10, Some(40)), &product(None, None)),
            (10, Some(40))
        );
    }

    #[test]
    fn a_grant_of_a_product_not_yet_on_sale_is_not_active() {
        let granted = grant(10, None);
        assert_eq!(
            grant_state(&granted, &product(Some(50), None), 20),
            GrantState::NotYetOnSale { starts: 50 }
        );
        assert_eq!(
            grant_state(&grant(30, None), &product(None, None), 20),
            GrantState::Starts { starts: 30 }
        );
        assert_eq!(
            grant_state(&granted, &product(Some(50), None), 50),
            GrantState::Active { until: None }
        );
    }

    #[test]
    fn a_grant_ends_with_its_product_and_revoked_beats_everything() {
        assert_eq!(
            grant_state(&grant(10, None), &product(None, Some(40)), 40),
            GrantState::Ended
        );
        let revoked = Grant {
            revoked_at: Some(15),
            ..grant(10, None)
        };
        assert_eq!(
            grant_state(&revoked, &product(None, None), 20),
            GrantState::Revoked
        );
    }

    #[test]
    fn the_access_token_carries_at_most_the_cap_of_products() {
        let entitlements = Entitlements {
            ppv: (0..5)
                .map(|n| ActiveProduct {
                    product: format!("p{n}"),
                    valid_until: None,
                })
                .collect(),
            ..Entitlements::default()
        };
        let claims = AccessTokenEntitlements::new(&entitlements, 3);
        assert_eq!(claims.ppv, vec!["p0", "p1", "p2"]);
        assert!(claims.ppv_overflow);
        assert!(!AccessTokenEntitlements::new(&entitlements, 5).ppv_overflow);
    }
}
