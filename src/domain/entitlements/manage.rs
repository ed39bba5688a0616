//! Changing entitlements: the one implementation of each rule, used by the admin API (and
//! the dashboard after it). Every change is one transaction that also writes the audit log,
//! bumps the entitlement version of everyone it touches, announces itself on the change feed
//! (so every instance drops its cached answer) and queues the client webhooks.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::entitlements::{Entitlements, LimitPolicy, STATUSES, compute};
use crate::domain::webhooks::{self, Notice};
use crate::foundation::crypto::random;
use crate::foundation::store::changes::{self, ChangeKind};
use crate::foundation::store::entitlements::{
    self as store, Grant, NewAuditEntry, Product, Subscription, Tier,
};
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError, households, users};
use crate::foundation::text;

#[derive(Debug, thiserror::Error)]
pub enum EntitlementError {
    /// A field is missing or wrong: 422 naming the field.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with what exists (a slug taken, a tier still in use).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a write failed on a uniqueness or foreign-key constraint: a concurrent change got
/// there first, which is a conflict, not a server error.
fn is_constraint(error: &EntitlementError) -> bool {
    matches!(
        error,
        EntitlementError::Store(StoreError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation
                | diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )))
    )
}

/// Maps a constraint failure of `result` to a conflict with `message`.
fn or_conflict<T>(
    result: Result<T, EntitlementError>,
    message: impl FnOnce() -> String,
) -> Result<T, EntitlementError> {
    match result {
        Err(error) if is_constraint(&error) => Err(EntitlementError::Conflict(message())),
        other => other,
    }
}

impl From<diesel::result::Error> for EntitlementError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(error))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> EntitlementError {
    EntitlementError::Invalid {
        field,
        message: message.into(),
    }
}

/// Who makes a change, as the audit log names them: `client:ID` or `admin:USER_ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn client(client_id: &str) -> Self {
        Self(format!("client:{client_id}"))
    }

    pub(crate) fn admin(user_id: &str) -> Self {
        Self(format!("admin:{user_id}"))
    }

    /// A person acting on their own account (`user:ID`), as self-service changes are audited.
    pub(crate) fn person(user_id: &str) -> Self {
        Self(format!("user:{user_id}"))
    }

    /// Whether this is the administrator `user_id` acting.
    pub(crate) fn is_admin(&self, user_id: &str) -> bool {
        self.0.strip_prefix("admin:") == Some(user_id)
    }
}

/// Lower-case letters, digits and dashes, starting with a letter or digit, at most 64.
fn check_slug(field: &'static str, slug: &str) -> Result<(), EntitlementError> {
    let valid = (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !slug.starts_with('-');
    if valid {
        Ok(())
    } else {
        Err(invalid(
            field,
            "must be 1 to 64 lower-case letters, digits or dashes",
        ))
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<String, EntitlementError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(invalid(field, format!("must be 1 to {max} printable characters")));
    }
    if !text::is_plain_name(value) {
        return Err(invalid(field, text::HIDDEN_CHARACTERS));
    }
    Ok(value.to_owned())
}

fn check_external_ref(external_ref: Option<&str>) -> Result<Option<String>, EntitlementError> {
    external_ref
        .map(|reference| check_text("external_ref", reference, 200))
        .transpose()
}

/// What describes a tier.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TierInput {
    pub name: String,
    pub rank: i32,
    #[serde(default)]
    pub features: Vec<String>,
    pub max_streams: i32,
    /// What a start at the limit does: `refuse` (the default) or `end_oldest`.
    #[serde(default)]
    pub stream_limit_policy: Option<String>,
    /// How many devices may hold a sign-in at once; absent: no limit.
    #[serde(default)]
    pub max_devices: Option<i32>,
    /// How many profiles an account may have; absent: [`DEFAULT_MAX_PROFILES`].
    #[serde(default)]
    pub max_profiles: Option<i32>,
    /// How many people a holder may bring into their household (docs/profiles-households.md);
    /// 0, the default: no household.
    #[serde(default)]
    pub max_members: i32,
}

/// The most members a tier may allow a household.
pub const MAX_MEMBERS_LIMIT: i32 = 100;

/// Profiles an account of a tier may have when the tier does not say.
pub const DEFAULT_MAX_PROFILES: i32 = 5;

/// A tier's checked description.
struct CheckedTier {
    name: String,
    features: Vec<String>,
    stream_limit_policy: String,
}

fn check_tier(input: &TierInput) -> Result<CheckedTier, EntitlementError> {
    let name = check_text("name", &input.name, 100)?;
    if input.features.len() > 32 {
        return Err(invalid("features", "at most 32 features"));
    }
    let mut features: Vec<String> = Vec::new();
    for feature in &input.features {
        let valid = (1..=64).contains(&feature.len())
            && feature
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"_-:".contains(&byte));
        if !valid {
            return Err(invalid(
                "features",
                format!("{feature:?} is not a feature name (a-z, 0-9, _ - :)"),
            ));
        }
        if !features.contains(feature) {
            features.push(feature.clone());
        }
    }
    if !(0..=1000).contains(&input.max_streams) {
        return Err(invalid("max_streams", "must be between 0 and 1000"));
    }
    if !(0..=MAX_MEMBERS_LIMIT).contains(&input.max_members) {
        return Err(invalid(
            "max_members",
            format!("must be between 0 and {MAX_MEMBERS_LIMIT}"),
        ));
    }
    if input
        .max_devices
        .is_some_and(|devices| !(1..=1000).contains(&devices))
    {
        return Err(invalid(
            "max_devices",
            "must be between 1 and 1000, or absent for no limit",
        ));
    }
    let stream_limit_policy = match input.stream_limit_policy.as_deref() {
        None => LimitPolicy::default(),
        Some(text) => LimitPolicy::parse(text)
            .ok_or_else(|| invalid("stream_limit_policy", "must be refuse or end_oldest"))?,
    };
    Ok(CheckedTier {
        name,
        features,
        stream_limit_policy: stream_limit_policy.as_str().to_owned(),
    })
}

pub fn create_tier(
    conn: &mut DbConnection,
    actor: &Actor,
    slug: &str,
    input: &TierInput,
    now: i64,
) -> Result<Tier, EntitlementError> {
    check_slug("slug", slug)?;
    let CheckedTier {
        name,
        features,
        stream_limit_policy,
    } = check_tier(input)?;
    if store::find_tier(conn, slug)?.is_some() {
        return Err(EntitlementError::Conflict(format!("tier {slug} already exists")));
    }
    let tier = Tier {
        slug: slug.to_owned(),
        name,
        rank: input.rank,
        features,
        max_streams: input.max_streams,
        stream_limit_policy,
        max_devices: input.max_devices,
        max_profiles: input.max_profiles.unwrap_or(DEFAULT_MAX_PROFILES),
        max_members: input.max_members,
        created_at: now,
        updated_at: now,
    };
    let created = transaction(conn, |conn| {
        store::insert_tier(conn, &tier)?;
        Change::unheld(actor, "tier.create", slug, None, Some(tier_json(&tier))).record(conn, now)
    });
    or_conflict(created, || format!("tier {slug} already exists"))?;
    Ok(tier)
}

pub fn update_tier(
    conn: &mut DbConnection,
    actor: &Actor,
    slug: &str,
    input: &TierInput,
    now: i64,
) -> Result<Tier, EntitlementError> {
    let CheckedTier {
        name,
        features,
        stream_limit_policy,
    } = check_tier(input)?;
    transaction(conn, |conn| {
        // The write comes first and locks the row: `before` is then the state this change
        // replaces, whatever else runs at the same moment.
        if !store::lock_tier(conn, slug)? {
            return Err(EntitlementError::NotFound("tier"));
        }
        let before = store::find_tier(conn, slug)?.ok_or(EntitlementError::NotFound("tier"))?;
        let tier = Tier {
            name,
            rank: input.rank,
            features,
            max_streams: input.max_streams,
            stream_limit_policy,
            max_devices: input.max_devices,
            max_profiles: input.max_profiles.unwrap_or(DEFAULT_MAX_PROFILES),
            max_members: input.max_members,
            updated_at: now,
            ..before.clone()
        };
        store::update_tier(conn, &tier)?;
        let mut change = Change::catalog(
            actor,
            "tier.update",
            slug,
            Some(tier_json(&before)),
            Some(tier_json(&tier)),
        );
        change.holders = Some(Holders::TierSubscribers);
        change.record(conn, now)?;
        Ok(tier)
    })
}

/// Deletes a tier no subscription names.
pub(crate) fn delete_tier(
    conn: &mut DbConnection,
    actor: &Actor,
    slug: &str,
    now: i64,
) -> Result<(), EntitlementError> {
    let before = store::find_tier(conn, slug)?.ok_or(EntitlementError::NotFound("tier"))?;
    if !store::tier_subscribers(conn, slug)?.is_empty() {
        return Err(EntitlementError::Conflict(format!(
            "tier {slug} is in use by subscriptions"
        )));
    }
    let deleted = transaction(conn, |conn| {
        store::delete_tier(conn, slug)?;
        Change::unheld(actor, "tier.delete", slug, Some(tier_json(&before)), None).record(conn, now)
    });
    or_conflict(deleted, || format!("tier {slug} is in use by subscriptions"))
}

pub(crate) fn tier_json(tier: &Tier) -> Value {
    json!({
        "slug": tier.slug,
        "name": tier.name,
        "rank": tier.rank,
        "features": tier.features,
        "max_streams": tier.max_streams,
        "stream_limit_policy": tier.stream_limit_policy,
        "max_devices": tier.max_devices,
        "max_profiles": tier.max_profiles,
        "max_members": tier.max_members,
    })
}

/// What describes a pay-per-view product; times are Unix seconds.
#[derive(Clone, Debug, Deserialize)]
pub struct ProductInput {
    pub title: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub rental_hours: Option<i32>,
    /// Whether a holder's grant of it is shared with their household; absent: no.
    #[serde(default)]
    pub household: bool,
}

fn check_product(input: &ProductInput) -> Result<String, EntitlementError> {
    let title = check_text("title", &input.title, 200)?;
    if let (Some(starts), Some(ends)) = (input.starts_at, input.ends_at)
        && ends <= starts
    {
        return Err(invalid("ends_at", "must be after starts_at"));
    }
    if input
        .rental_hours
        .is_some_and(|hours| !(1..=8760).contains(&hours))
    {
        return Err(invalid("rental_hours", "must be between 1 and 8760"));
    }
    Ok(title)
}

pub fn create_product(
    conn: &mut DbConnection,
    actor: &Actor,
    slug: &str,
    input: &ProductInput,
    now: i64,
) -> Result<Product, EntitlementError> {
    check_slug("slug", slug)?;
    let title = check_product(input)?;
    if store::find_product(conn, slug)?.is_some() {
        return Err(EntitlementError::Conflict(format!(
            "product {slug} already exists"
        )));
    }
    let product = Product {
        slug: slug.to_owned(),
        title,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        rental_hours: input.rental_hours,
        created_at: now,
        updated_at: now,
        household: input.household,
    };
    let created = transaction(conn, |conn| {
        store::insert_product(conn, &product)?;
        Change::unheld(actor, "product.create", slug, None, Some(product_json(&product))).record(conn, now)
    });
    or_conflict(created, || format!("product {slug} already exists"))?;
    Ok(product)
}

pub(crate) fn update_product(
    conn: &mut DbConnection,
    actor: &Actor,
    slug: &str,
    input: &ProductInput,
    now: i64,
) -> Result<Product, EntitlementError> {
    let title = check_product(input)?;
    transaction(conn, |conn| {
        // Write first, then read: see update_tier.
        if !store::lock_product(conn, slug)? {
            return Err(EntitlementError::NotFound("product"));
        }
        let before = store::find_product(conn, slug)?.ok_or(EntitlementError::NotFound("product"))?;
        let product = Product {
            title,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            rental_hours: input.rental_hours,
            household: input.household,
            updated_at: now,
            ..before.clone()
        };
        store::update_product(conn, &product)?;
        let mut change = Change::catalog(
            actor,
            "product.update",
            slug,
            Some(product_json(&before)),
            Some(product_json(&product)),
        );
        change.holders = Some(Holders::ProductHolders);
        change.record(conn, now)?;
        Ok(product)
    })
}

/// Deletes a product that was never granted.
pub(crate) fn delete_product(
    conn: &mut DbConnection,
    actor: &Actor,
    slug: &str,
    now: i64,
) -> Result<(), EntitlementError> {
    let before = store::find_product(conn, slug)?.ok_or(EntitlementError::NotFound("product"))?;
    if store::product_has_grants(conn, slug)? {
        return Err(EntitlementError::Conflict(format!("product {slug} has grants")));
    }
    let deleted = transaction(conn, |conn| {
        store::delete_product(conn, slug)?;
        Change::unheld(actor, "product.delete", slug, Some(product_json(&before)), None).record(conn, now)
    });
    or_conflict(deleted, || format!("product {slug} has grants"))
}

pub(crate) fn product_json(product: &Product) -> Value {
    json!({
        "slug": product.slug,
        "title": product.title,
        "starts_at": product.starts_at,
        "ends_at": product.ends_at,
        "rental_hours": product.rental_hours,
        "household": product.household,
    })
}

/// A person's subscription as a payment service reports it; times are Unix seconds.
#[derive(Clone, Debug, Deserialize)]
pub struct SubscriptionInput {
    pub tier: String,
    pub status: String,
    pub current_period_end: i64,
    pub external_ref: Option<String>,
}

fn require_user(conn: &mut DbConnection, user_id: &str) -> Result<(), EntitlementError> {
    users::find_by_id(conn, user_id)?
        .map(|_| ())
        .ok_or(EntitlementError::NotFound("user"))
}

pub fn put_subscription(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: &str,
    input: &SubscriptionInput,
    now: i64,
) -> Result<Subscription, EntitlementError> {
    require_user(conn, user_id)?;
    if !STATUSES.contains(&input.status.as_str()) {
        return Err(invalid(
            "status",
            "must be active, trialing, past_due or canceled",
        ));
    }
    if store::find_tier(conn, &input.tier)?.is_none() {
        return Err(invalid("tier", format!("no tier {:?}", input.tier)));
    }
    let subscription = Subscription {
        user_id: user_id.to_owned(),
        tier_slug: input.tier.clone(),
        status: input.status.clone(),
        current_period_end: input.current_period_end,
        external_ref: check_external_ref(input.external_ref.as_deref())?,
        updated_at: now,
    };
    let written = transaction(conn, |conn| {
        // Write first (the person's lock), then read what this change replaces.
        store::lock_person(conn, user_id)?;
        let before = store::find_subscription(conn, user_id)?;
        // Payment services resend renewals: the same state again changes nothing and says
        // so to nobody.
        if let Some(current) = &before
            && (Subscription {
                updated_at: current.updated_at,
                ..subscription.clone()
            }) == *current
        {
            return Ok(current.clone());
        }
        store::put_subscription(conn, &subscription)?;
        Change::person(
            actor,
            "subscription.put",
            user_id,
            before.as_ref().map(subscription_json),
            Some(subscription_json(&subscription)),
        )
        .record(conn, now)?;
        Ok(subscription.clone())
    });
    or_conflict(written, || format!("tier {} was just deleted", input.tier))
}

/// Ends the person's subscription; `false` when there was none.
pub(crate) fn end_subscription(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: &str,
    now: i64,
) -> Result<bool, EntitlementError> {
    require_user(conn, user_id)?;
    transaction(conn, |conn| {
        store::lock_person(conn, user_id)?;
        let Some(before) = store::find_subscription(conn, user_id)? else {
            return Ok(false);
        };
        store::delete_subscription(conn, user_id)?;
        Change::person(
            actor,
            "subscription.delete",
            user_id,
            Some(subscription_json(&before)),
            None,
        )
        .record(conn, now)?;
        Ok(true)
    })
}

pub(crate) fn subscription_json(subscription: &Subscription) -> Value {
    json!({
        "tier": subscription.tier_slug,
        "status": subscription.status,
        "current_period_end": subscription.current_period_end,
        "external_ref": subscription.external_ref,
    })
}

/// A product granted to a person; times are Unix seconds.
#[derive(Clone, Debug, Deserialize)]
pub struct GrantInput {
    pub product: String,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub external_ref: Option<String>,
}

/// Grants a product. The same `external_ref` again (a payment webhook delivered twice) returns
/// the first grant unchanged with `false`: nothing is granted twice.
pub fn grant_product(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: &str,
    input: &GrantInput,
    now: i64,
) -> Result<(Grant, bool), EntitlementError> {
    require_user(conn, user_id)?;
    let external_ref = check_external_ref(input.external_ref.as_deref())?;
    if let Some(existing) = existing_grant(conn, user_id, input, external_ref.as_deref())? {
        return Ok((existing, false));
    }
    let product = store::find_product(conn, &input.product)?
        .ok_or_else(|| invalid("product", format!("no product {:?}", input.product)))?;
    if product.ends_at.is_some_and(|ends| ends <= now) {
        return Err(invalid(
            "product",
            format!("{:?} is no longer available", product.slug),
        ));
    }
    let valid_from = input.valid_from.unwrap_or(now);
    if input.valid_until.is_some_and(|until| until <= valid_from) {
        return Err(invalid("valid_until", "must be after valid_from"));
    }
    // A rental bought before the product opens runs from its opening, not from the purchase.
    let rental_starts = product
        .starts_at
        .map_or(valid_from, |starts| starts.max(valid_from));
    let valid_until = input.valid_until.or_else(|| {
        product
            .rental_hours
            .map(|hours| rental_starts + i64::from(hours) * 3600)
    });
    let ends = match (valid_until, product.ends_at) {
        (Some(until), Some(ends)) => Some(until.min(ends)),
        (until, ends) => until.or(ends),
    };
    if ends.is_some_and(|ends| ends <= rental_starts) {
        return Err(invalid(
            "valid_until",
            "the grant would end before the product is available",
        ));
    }
    let grant = Grant {
        id: uuid::Builder::from_random_bytes(random::bytes::<16>())
            .into_uuid()
            .to_string(),
        user_id: user_id.to_owned(),
        product_slug: product.slug,
        valid_from,
        valid_until,
        external_ref,
        revoked_at: None,
        created_at: now,
    };
    let inserted = transaction(conn, |conn| {
        store::insert_grant(conn, &grant)?;
        Change::person(actor, "grant.create", user_id, None, Some(grant_json(&grant))).record(conn, now)
    });
    match inserted {
        Ok(()) => Ok((grant, true)),
        // The same reference, inserted by a concurrent delivery of the same payment webhook.
        // Otherwise the product changed under the grant (deleted, say): a conflict.
        Err(error) if is_constraint(&error) => {
            match existing_grant(conn, user_id, input, grant.external_ref.as_deref())? {
                Some(existing) => Ok((existing, false)),
                None => Err(EntitlementError::Conflict(format!(
                    "product {} changed while granting it",
                    input.product
                ))),
            }
        }
        Err(error) => Err(error),
    }
}

/// The grant an `external_ref` already names: the same one again, or a conflict when it
/// names a different person or product.
fn existing_grant(
    conn: &mut DbConnection,
    user_id: &str,
    input: &GrantInput,
    external_ref: Option<&str>,
) -> Result<Option<Grant>, EntitlementError> {
    let Some(reference) = external_ref else {
        return Ok(None);
    };
    match store::find_grant_by_external_ref(conn, reference)? {
        Some(existing) if existing.user_id != user_id || existing.product_slug != input.product => Err(
            EntitlementError::Conflict(format!("external_ref {reference:?} already names another grant")),
        ),
        found => Ok(found),
    }
}

/// Revokes one of the person's grants; `false` when it was revoked already.
pub fn revoke_grant(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: &str,
    grant_id: &str,
    now: i64,
) -> Result<bool, EntitlementError> {
    let before = store::find_grant(conn, grant_id)?
        .filter(|grant| grant.user_id == user_id)
        .ok_or(EntitlementError::NotFound("grant"))?;
    if before.revoked_at.is_some() {
        return Ok(false);
    }
    let after = Grant {
        revoked_at: Some(now),
        ..before.clone()
    };
    transaction(conn, |conn| {
        // A concurrent revocation may have won since `before` was read: it recorded it.
        if !store::revoke_grant(conn, grant_id, now)? {
            return Ok(false);
        }
        Change::person(
            actor,
            "grant.revoke",
            user_id,
            Some(grant_json(&before)),
            Some(grant_json(&after)),
        )
        .record(conn, now)?;
        Ok(true)
    })
}

pub(crate) fn grant_json(grant: &Grant) -> Value {
    json!({
        "id": grant.id,
        "product": grant.product_slug,
        "valid_from": grant.valid_from,
        "valid_until": grant.valid_until,
        "external_ref": grant.external_ref,
        "revoked_at": grant.revoked_at,
    })
}

/// A person's entitlements now.
pub(crate) fn entitlements_of(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Entitlements, EntitlementError> {
    require_user(conn, user_id)?;
    Ok(compute(conn, user_id, now)?)
}

/// The people a catalogue edit touches.
#[derive(Clone, Copy)]
enum Holders {
    TierSubscribers,
    ProductHolders,
}

/// One change, and everything it must leave behind.
struct Change<'a> {
    actor: &'a Actor,
    action: &'static str,
    target: &'a str,
    user_id: Option<&'a str>,
    /// People whose entitlements changed: their versions grow.
    affected: Vec<String>,
    /// Whether cached entitlements of everyone must go (a tier or product changed).
    catalog: bool,
    /// For an edited tier or product: whose versions grow, found by one statement inside the
    /// transaction (there may be very many).
    holders: Option<Holders>,
    before: Option<Value>,
    after: Option<Value>,
}

impl<'a> Change<'a> {
    fn catalog(
        actor: &'a Actor,
        action: &'static str,
        slug: &'a str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            actor,
            action,
            target: slug,
            user_id: None,
            affected: Vec::new(),
            catalog: true,
            holders: None,
            before,
            after,
        }
    }

    /// A tier or product nobody holds was created or deleted: no one's entitlements change,
    /// so no cache anywhere needs to drop anything.
    fn unheld(
        actor: &'a Actor,
        action: &'static str,
        slug: &'a str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            catalog: false,
            ..Self::catalog(actor, action, slug, before, after)
        }
    }

    fn person(
        actor: &'a Actor,
        action: &'static str,
        user_id: &'a str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            actor,
            action,
            target: user_id,
            user_id: Some(user_id),
            affected: vec![user_id.to_owned()],
            catalog: false,
            holders: None,
            before,
            after,
        }
    }

    /// Writes the audit entry, bumps versions, announces the change and queues webhooks. Runs
    /// inside the caller's transaction, after its first write. The members of a household
    /// share its holder's entitlements: they are affected by every change to the holder.
    fn record(mut self, conn: &mut DbConnection, now: i64) -> Result<(), EntitlementError> {
        let members = households::member_ids_of(conn, &self.affected)?;
        self.affected.extend(members);
        store::audit(
            conn,
            &NewAuditEntry {
                at: now,
                actor: &self.actor.0,
                action: self.action,
                user_id: self.user_id,
                target: self.target,
                before: self.before.as_ref().map(Value::to_string),
                after: self.after.as_ref().map(Value::to_string),
            },
        )?;
        store::bump_versions(conn, &self.affected)?;
        match self.holders {
            Some(Holders::TierSubscribers) => {
                store::bump_versions_of_tier(conn, self.target)?;
                households::bump_versions_of_tier_members(conn, self.target)?;
            }
            Some(Holders::ProductHolders) => {
                store::bump_versions_of_product(conn, self.target)?;
                households::bump_versions_of_product_members(conn, self.target)?;
            }
            None => {}
        }
        if self.catalog {
            changes::record(conn, ChangeKind::CatalogChanged, self.target, None)?;
        }
        for user_id in &self.affected {
            changes::record(conn, ChangeKind::EntitlementsChanged, user_id, None)?;
        }
        let ent_ver = self
            .user_id
            .map(|user_id| store::version(conn, user_id))
            .transpose()?;
        webhooks::enqueue(
            conn,
            &Notice {
                event: self.action,
                user_id: self.user_id,
                target: self.target,
                affected: &self.affected,
                data: self.after.clone().unwrap_or(Value::Null),
                ent_ver,
            },
            now,
        )?;
        Ok(())
    }
}

/// Announces the entitlement changes the clock made since the last sweep (a period that
/// ended, a rental that started or expired), to the people concerned and the members of
/// their households: each person's version grows, the change feed and the webhooks tell
/// about it, as for any other change. Whichever instance claims the
/// interval first does it; returns the people concerned.
pub fn sweep_schedule(conn: &mut DbConnection, now: i64) -> Result<Vec<String>, EntitlementError> {
    let from = store::swept_until(conn)?;
    if now <= from {
        return Ok(Vec::new());
    }
    transaction(conn, |conn| {
        if !store::claim_sweep(conn, from, now)? {
            return Ok(Vec::new());
        }
        let mut people = store::people_with_boundaries(conn, from, now)?;
        let members = households::member_ids_of(conn, &people)?;
        people.extend(members);
        people.sort_unstable();
        people.dedup();
        store::bump_versions(conn, &people)?;
        for user_id in &people {
            changes::record(conn, ChangeKind::EntitlementsChanged, user_id, None)?;
            let ent_ver = Some(store::version(conn, user_id)?);
            webhooks::enqueue(
                conn,
                &Notice {
                    event: "entitlements.scheduled",
                    user_id: Some(user_id),
                    target: user_id,
                    affected: std::slice::from_ref(user_id),
                    data: Value::Null,
                    ent_ver,
                },
                now,
            )?;
        }
        Ok(people)
    })
}
