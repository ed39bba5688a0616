//! Tiers, subscriptions, pay-per-view products and grants, the entitlement version of each
//! person, and the audit log.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::foundation::store::schema::{
    audit_log, entitlement_sweep, entitlement_versions, product_grants, products, subscriptions, tiers,
};
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tiers)]
struct TierRow {
    slug: String,
    name: String,
    rank: i32,
    features: String,
    max_streams: i32,
    created_at: i64,
    updated_at: i64,
    stream_limit_policy: String,
    max_devices: Option<i32>,
    max_profiles: i32,
    max_members: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    pub slug: String,
    pub name: String,
    pub rank: i32,
    pub features: Vec<String>,
    pub max_streams: i32,
    /// `refuse` or `end_oldest`: what a start at the limit does.
    pub stream_limit_policy: String,
    /// How many devices may hold a sign-in at once; `None`: no limit.
    pub max_devices: Option<i32>,
    /// How many profiles an account may have.
    pub max_profiles: i32,
    /// How many people the holder may bring into their household; 0: no household.
    pub max_members: i32,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<TierRow> for Tier {
    type Error = StoreError;

    fn try_from(row: TierRow) -> Result<Self, StoreError> {
        Ok(Self {
            features: decode_list("tiers.features", &row.features)?,
            slug: row.slug,
            name: row.name,
            rank: row.rank,
            max_streams: row.max_streams,
            stream_limit_policy: row.stream_limit_policy,
            max_devices: row.max_devices,
            max_profiles: row.max_profiles,
            max_members: row.max_members,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl From<&Tier> for TierRow {
    fn from(tier: &Tier) -> Self {
        Self {
            slug: tier.slug.clone(),
            name: tier.name.clone(),
            rank: tier.rank,
            features: encode_list(&tier.features),
            max_streams: tier.max_streams,
            stream_limit_policy: tier.stream_limit_policy.clone(),
            max_devices: tier.max_devices,
            max_profiles: tier.max_profiles,
            max_members: tier.max_members,
            created_at: tier.created_at,
            updated_at: tier.updated_at,
        }
    }
}

/// Every tier, lowest rank first.
pub fn list_tiers(conn: &mut DbConnection) -> Result<Vec<Tier>, StoreError> {
    tiers::table
        .order((tiers::rank.asc(), tiers::slug.asc()))
        .select(TierRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Tier::try_from)
        .collect()
}

pub(crate) fn find_tier(conn: &mut DbConnection, slug: &str) -> Result<Option<Tier>, StoreError> {
    tiers::table
        .filter(tiers::slug.eq(slug))
        .select(TierRow::as_select())
        .first(conn)
        .optional()?
        .map(Tier::try_from)
        .transpose()
}

pub(crate) fn insert_tier(conn: &mut DbConnection, tier: &Tier) -> Result<(), StoreError> {
    diesel::insert_into(tiers::table)
        .values(TierRow::from(tier))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn update_tier(conn: &mut DbConnection, tier: &Tier) -> Result<(), StoreError> {
    diesel::update(tiers::table.filter(tiers::slug.eq(&tier.slug)))
        .set((
            tiers::name.eq(&tier.name),
            tiers::rank.eq(tier.rank),
            tiers::features.eq(encode_list(&tier.features)),
            tiers::max_streams.eq(tier.max_streams),
            tiers::stream_limit_policy.eq(&tier.stream_limit_policy),
            tiers::max_devices.eq(tier.max_devices),
            tiers::max_profiles.eq(tier.max_profiles),
            tiers::max_members.eq(tier.max_members),
            tiers::updated_at.eq(tier.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn delete_tier(conn: &mut DbConnection, slug: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(tiers::table.filter(tiers::slug.eq(slug))).execute(conn)? > 0)
}

/// How many subscriptions name the tier, whatever their status.
pub(crate) fn tier_subscribers(conn: &mut DbConnection, slug: &str) -> Result<Vec<String>, StoreError> {
    Ok(subscriptions::table
        .filter(subscriptions::tier_slug.eq(slug))
        .select(subscriptions::user_id)
        .load(conn)?)
}

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = products)]
pub struct Product {
    pub slug: String,
    pub title: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub rental_hours: Option<i32>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Members of a holder's household may watch it too while the holder's grant lasts.
    pub household: bool,
}

pub(crate) fn list_products(conn: &mut DbConnection) -> Result<Vec<Product>, StoreError> {
    Ok(products::table
        .order(products::slug.asc())
        .select(Product::as_select())
        .load(conn)?)
}

pub(crate) fn find_product(conn: &mut DbConnection, slug: &str) -> Result<Option<Product>, StoreError> {
    Ok(products::table
        .filter(products::slug.eq(slug))
        .select(Product::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn insert_product(conn: &mut DbConnection, product: &Product) -> Result<(), StoreError> {
    diesel::insert_into(products::table)
        .values(product)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn update_product(conn: &mut DbConnection, product: &Product) -> Result<(), StoreError> {
    diesel::update(products::table.filter(products::slug.eq(&product.slug)))
        .set((
            products::title.eq(&product.title),
            products::starts_at.eq(product.starts_at),
            products::ends_at.eq(product.ends_at),
            products::rental_hours.eq(product.rental_hours),
            products::household.eq(product.household),
            products::updated_at.eq(product.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn delete_product(conn: &mut DbConnection, slug: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(products::table.filter(products::slug.eq(slug))).execute(conn)? > 0)
}

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions)]
pub struct Subscription {
    pub user_id: String,
    pub tier_slug: String,
    pub status: String,
    pub current_period_end: i64,
    pub external_ref: Option<String>,
    pub updated_at: i64,
}

pub fn find_subscription(conn: &mut DbConnection, user_id: &str) -> Result<Option<Subscription>, StoreError> {
    Ok(subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .select(Subscription::as_select())
        .first(conn)
        .optional()?)
}

/// Sets the person's one subscription, replacing any earlier one.
pub(crate) fn put_subscription(
    conn: &mut DbConnection,
    subscription: &Subscription,
) -> Result<(), StoreError> {
    // MultiConnection has no upsert builder; both databases accept this SQL.
    diesel::sql_query(
        "INSERT INTO subscriptions (user_id, tier_slug, status, current_period_end, external_ref, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET tier_slug = excluded.tier_slug, \
         status = excluded.status, current_period_end = excluded.current_period_end, \
         external_ref = excluded.external_ref, updated_at = excluded.updated_at",
    )
    .bind::<Text, _>(&subscription.user_id)
    .bind::<Text, _>(&subscription.tier_slug)
    .bind::<Text, _>(&subscription.status)
    .bind::<BigInt, _>(subscription.current_period_end)
    .bind::<diesel::sql_types::Nullable<Text>, _>(subscription.external_ref.as_deref())
    .bind::<BigInt, _>(subscription.updated_at)
    .execute(conn)?;
    Ok(())
}

pub(crate) fn delete_subscription(conn: &mut DbConnection, user_id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(subscriptions::table.filter(subscriptions::user_id.eq(user_id))).execute(conn)? > 0)
}

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_grants)]
pub struct Grant {
    pub id: String,
    pub user_id: String,
    pub product_slug: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    pub external_ref: Option<String>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

/// Every grant of a person, newest first.
pub fn list_grants(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Grant>, StoreError> {
    Ok(product_grants::table
        .filter(product_grants::user_id.eq(user_id))
        .order((product_grants::created_at.desc(), product_grants::id.asc()))
        .select(Grant::as_select())
        .load(conn)?)
}

/// A person's unrevoked grants with their products: what entitlements are computed from.
pub(crate) fn live_grants_with_products(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<(Grant, Product)>, StoreError> {
    Ok(product_grants::table
        .inner_join(products::table)
        .filter(product_grants::user_id.eq(user_id))
        .filter(product_grants::revoked_at.is_null())
        .order(product_grants::product_slug.asc())
        .select((Grant::as_select(), Product::as_select()))
        .load(conn)?)
}

pub(crate) fn find_grant(conn: &mut DbConnection, id: &str) -> Result<Option<Grant>, StoreError> {
    Ok(product_grants::table
        .filter(product_grants::id.eq(id))
        .select(Grant::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn find_grant_by_external_ref(
    conn: &mut DbConnection,
    external_ref: &str,
) -> Result<Option<Grant>, StoreError> {
    Ok(product_grants::table
        .filter(product_grants::external_ref.eq(external_ref))
        .select(Grant::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn insert_grant(conn: &mut DbConnection, grant: &Grant) -> Result<(), StoreError> {
    diesel::insert_into(product_grants::table)
        .values(grant)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn revoke_grant(conn: &mut DbConnection, id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(diesel::update(
        product_grants::table
            .filter(product_grants::id.eq(id))
            .filter(product_grants::revoked_at.is_null()),
    )
    .set(product_grants::revoked_at.eq(now))
    .execute(conn)?
        > 0)
}

/// Whether any grant names the product.
pub(crate) fn product_has_grants(conn: &mut DbConnection, slug: &str) -> Result<bool, StoreError> {
    let count: i64 = product_grants::table
        .filter(product_grants::product_slug.eq(slug))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// The person's entitlement version: 0 until something changes.
pub(crate) fn version(conn: &mut DbConnection, user_id: &str) -> Result<i64, StoreError> {
    Ok(entitlement_versions::table
        .filter(entitlement_versions::user_id.eq(user_id))
        .select(entitlement_versions::version)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Bumps the version of each person; the first statement is a write.
pub(crate) fn bump_versions(conn: &mut DbConnection, user_ids: &[String]) -> Result<(), StoreError> {
    for user_id in user_ids {
        diesel::sql_query(
            "INSERT INTO entitlement_versions (user_id, version) VALUES ($1, 1) \
             ON CONFLICT (user_id) DO UPDATE SET version = entitlement_versions.version + 1",
        )
        .bind::<Text, _>(user_id)
        .execute(conn)?;
    }
    Ok(())
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub user_id: Option<String>,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
pub(crate) struct NewAuditEntry<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub user_id: Option<&'a str>,
    pub target: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Audits a change a person made to their own account (actor and target `user:ID`), such as
/// a credential added or removed; `after` describes it when there is more than the action.
pub(crate) fn audit_self(
    conn: &mut DbConnection,
    user_id: &str,
    action: &str,
    after: Option<String>,
    now: i64,
) -> Result<(), StoreError> {
    let actor = format!("user:{user_id}");
    audit(
        conn,
        &NewAuditEntry {
            at: now,
            actor: &actor,
            action,
            user_id: Some(user_id),
            target: &actor,
            before: None,
            after,
        },
    )
}

pub(crate) fn audit(conn: &mut DbConnection, entry: &NewAuditEntry<'_>) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

/// Filters of the audit log; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Entries with an id below this one (the page after the last one seen).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub fn list_audit(conn: &mut DbConnection, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
    let mut query = audit_log::table.into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor));
    }
    if let Some(user_id) = &filter.user_id {
        query = query.filter(audit_log::user_id.eq(user_id));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::at.lt(until));
    }
    if let Some(before_id) = filter.before_id {
        query = query.filter(audit_log::id.lt(before_id));
    }
    Ok(query
        .order(audit_log::id.desc())
        .limit(filter.limit)
        .select(AuditEntry::as_select())
        .load(conn)?)
}

/// A page of the audit log newest first by time, then by id: `filter` as for [`list_audit`],
/// and with `older_than` only entries before that `(at, id)`, the last entry of the page
/// before. Times from several instances can be out of id order; this keeps pages in the
/// order a reader expects and never skips or repeats an entry.
pub(crate) fn list_audit_page(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    older_than: Option<(i64, i64)>,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut query = audit_log::table.into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor));
    }
    if let Some(user_id) = &filter.user_id {
        query = query.filter(audit_log::user_id.eq(user_id));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::at.lt(until));
    }
    if let Some(before_id) = filter.before_id {
        query = query.filter(audit_log::id.lt(before_id));
    }
    if let Some((at, id)) = older_than {
        query = query.filter(
            audit_log::at
                .lt(at)
                .or(audit_log::at.eq(at).and(audit_log::id.lt(id))),
        );
    }
    Ok(query
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(filter.limit)
        .select(AuditEntry::as_select())
        .load(conn)?)
}

/// The email addresses of the people among `user_ids` who have an account, by user id: how
/// the audit log names people.
pub(crate) fn emails_of(
    conn: &mut DbConnection,
    user_ids: &[String],
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    use crate::foundation::store::schema::users;
    if user_ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<(String, String)> = users::table
        .filter(users::id.eq_any(user_ids))
        .select((users::id, users::email))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Up to when scheduled entitlement changes have been announced.
pub(crate) fn swept_until(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(entitlement_sweep::table
        .filter(entitlement_sweep::id.eq(1))
        .select(entitlement_sweep::swept_until)
        .first(conn)?)
}

/// Claims the sweep of `(from, to]`: `false` when another instance moved it first.
pub(crate) fn claim_sweep(conn: &mut DbConnection, from: i64, to: i64) -> Result<bool, StoreError> {
    Ok(diesel::update(
        entitlement_sweep::table
            .filter(entitlement_sweep::id.eq(1))
            .filter(entitlement_sweep::swept_until.eq(from)),
    )
    .set(entitlement_sweep::swept_until.eq(to))
    .execute(conn)?
        > 0)
}

/// People whose entitlements the clock may have changed in `(from, to]`: a current period
/// that ended, a grant or product window that opened or closed. Generous on purpose (a
/// grant starting before its product opens is counted twice); an extra version costs nothing.
pub(crate) fn people_with_boundaries(
    conn: &mut DbConnection,
    from: i64,
    to: i64,
) -> Result<Vec<String>, StoreError> {
    let mut people: Vec<String> = subscriptions::table
        .filter(subscriptions::status.ne("canceled"))
        .filter(subscriptions::current_period_end.gt(from))
        .filter(subscriptions::current_period_end.le(to))
        .select(subscriptions::user_id)
        .load(conn)?;
    let granted: Vec<String> = product_grants::table
        .inner_join(products::table)
        .filter(product_grants::revoked_at.is_null())
        .filter(
            product_grants::valid_from
                .gt(from)
                .and(product_grants::valid_from.le(to))
                .or(product_grants::valid_until
                    .gt(from)
                    .and(product_grants::valid_until.le(to)))
                .or(products::starts_at.gt(from).and(products::starts_at.le(to)))
                .or(products::ends_at.gt(from).and(products::ends_at.le(to))),
        )
        .select(product_grants::user_id)
        .load(conn)?;
    people.extend(granted);
    people.sort_unstable();
    people.dedup();
    Ok(people)
}

/// Bumps the version of everyone subscribed to the tier, in one statement however many.
pub(crate) fn bump_versions_of_tier(conn: &mut DbConnection, slug: &str) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "INSERT INTO entitlement_versions (user_id, version) \
         SELECT DISTINCT user_id, 1 FROM subscriptions WHERE tier_slug = $1 \
         ON CONFLICT (user_id) DO UPDATE SET version = entitlement_versions.version + 1",
    )
    .bind::<Text, _>(slug)
    .execute(conn)?)
}

/// Bumps the version of everyone holding an unrevoked grant of the product.
pub(crate) fn bump_versions_of_product(conn: &mut DbConnection, slug: &str) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "INSERT INTO entitlement_versions (user_id, version) \
         SELECT DISTINCT user_id, 1 FROM product_grants WHERE product_slug = $1 AND revoked_at IS NULL \
         ON CONFLICT (user_id) DO UPDATE SET version = entitlement_versions.version + 1",
    )
    .bind::<Text, _>(slug)
    .execute(conn)?)
}

/// Locks a tier's row for the rest of the transaction (a write that changes nothing);
/// `false` when there is no such tier.
pub(crate) fn lock_tier(conn: &mut DbConnection, slug: &str) -> Result<bool, StoreError> {
    Ok(diesel::update(tiers::table.filter(tiers::slug.eq(slug)))
        .set(tiers::updated_at.eq(tiers::updated_at))
        .execute(conn)?
        > 0)
}

/// Locks a product's row for the rest of the transaction; `false` when there is none.
pub(crate) fn lock_product(conn: &mut DbConnection, slug: &str) -> Result<bool, StoreError> {
    Ok(diesel::update(products::table.filter(products::slug.eq(slug)))
        .set(products::updated_at.eq(products::updated_at))
        .execute(conn)?
        > 0)
}

/// Locks the person's entitlement version row for the rest of the transaction, creating it
/// at 0 when missing: every change to one person's entitlements starts here.
pub(crate) fn lock_person(conn: &mut DbConnection, user_id: &str) -> Result<(), StoreError> {
    diesel::sql_query(
        "INSERT INTO entitlement_versions (user_id, version) VALUES ($1, 0) \
         ON CONFLICT (user_id) DO UPDATE SET version = entitlement_versions.version",
    )
    .bind::<Text, _>(user_id)
    .execute(conn)?;
    Ok(())
}

/// How many subscriptions give their tier at `now` (not canceled, period not over), per tier
/// slug and status: one scan, a few rows back however many people.
pub(crate) fn current_subscriptions(
    conn: &mut DbConnection,
    now: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(subscriptions::table
        .filter(subscriptions::status.ne("canceled"))
        .filter(subscriptions::current_period_end.gt(now))
        .group_by((subscriptions::tier_slug, subscriptions::status))
        .select((
            subscriptions::tier_slug,
            subscriptions::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)?)
}

/// How many grants were created at or after `since`, per product slug, revoked ones
/// included (each was a purchase); products without any are missing.
pub(crate) fn grants_created_per_product(
    conn: &mut DbConnection,
    since: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(product_grants::table
        .filter(product_grants::created_at.ge(since))
        .group_by(product_grants::product_slug)
        .select((product_grants::product_slug, diesel::dsl::count_star()))
        .load(conn)?)
}
