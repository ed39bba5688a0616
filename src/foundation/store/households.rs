//! Households (family plans): who belongs to whose, and the invitations not yet accepted.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::foundation::store::schema::{household_invitations, household_members, users};
use crate::foundation::store::{DbConnection, StoreError};

/// A person in someone else's household.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_members)]
pub struct Membership {
    pub member_id: String,
    pub holder_id: String,
    pub joined_at: i64,
}

/// An invitation into a household, accepted by using the sign-in link mailed with it
/// (`link_hash`, the SHA-256 of the link's token).
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_invitations)]
pub struct Invitation {
    pub id: String,
    pub holder_id: String,
    pub email: String,
    pub link_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The holder of the household the person belongs to, if any.
pub fn holder_of(conn: &mut DbConnection, member_id: &str) -> Result<Option<String>, StoreError> {
    Ok(household_members::table
        .find(member_id)
        .select(household_members::holder_id)
        .first(conn)
        .optional()?)
}

/// The members of a household with their email addresses, first joined first.
pub fn members_of(conn: &mut DbConnection, holder_id: &str) -> Result<Vec<(Membership, String)>, StoreError> {
    Ok(household_members::table
        .inner_join(users::table.on(users::id.eq(household_members::member_id)))
        .filter(household_members::holder_id.eq(holder_id))
        .order((
            household_members::joined_at.asc(),
            household_members::member_id.asc(),
        ))
        .select((Membership::as_select(), users::email))
        .load(conn)?)
}

/// The members of every household these people hold.
pub(crate) fn member_ids_of(
    conn: &mut DbConnection,
    holder_ids: &[String],
) -> Result<Vec<String>, StoreError> {
    if holder_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(household_members::table
        .filter(household_members::holder_id.eq_any(holder_ids))
        .select(household_members::member_id)
        .load(conn)?)
}

pub(crate) fn insert_member(conn: &mut DbConnection, membership: &Membership) -> Result<(), StoreError> {
    diesel::insert_into(household_members::table)
        .values(membership)
        .execute(conn)?;
    Ok(())
}

/// Takes `member_id` out of `holder_id`'s household; `false` when they were not in it.
pub(crate) fn delete_member(
    conn: &mut DbConnection,
    holder_id: &str,
    member_id: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::delete(
        household_members::table
            .find(member_id)
            .filter(household_members::holder_id.eq(holder_id)),
    )
    .execute(conn)?
        > 0)
}

/// The holder's invitations still open at `now`, oldest first.
pub fn pending_invitations(
    conn: &mut DbConnection,
    holder_id: &str,
    now: i64,
) -> Result<Vec<Invitation>, StoreError> {
    Ok(household_invitations::table
        .filter(household_invitations::holder_id.eq(holder_id))
        .filter(household_invitations::expires_at.gt(now))
        .order((
            household_invitations::created_at.asc(),
            household_invitations::id.asc(),
        ))
        .select(Invitation::as_select())
        .load(conn)?)
}

pub(crate) fn find_invitation(
    conn: &mut DbConnection,
    holder_id: &str,
    id: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(household_invitations::table
        .find(id)
        .filter(household_invitations::holder_id.eq(holder_id))
        .select(Invitation::as_select())
        .first(conn)
        .optional()?)
}

/// The invitation a sign-in link carries, whether or not it is still open.
pub(crate) fn invitation_of_link(
    conn: &mut DbConnection,
    link_hash: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(household_invitations::table
        .filter(household_invitations::link_hash.eq(link_hash))
        .select(Invitation::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn insert_invitation(conn: &mut DbConnection, invitation: &Invitation) -> Result<(), StoreError> {
    diesel::insert_into(household_invitations::table)
        .values(invitation)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn delete_invitation(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(household_invitations::table.find(id)).execute(conn)? > 0)
}

/// Forgets invitations that expired before `before`.
pub(crate) fn prune_invitations(conn: &mut DbConnection, before: i64) -> Result<(), StoreError> {
    diesel::delete(household_invitations::table.filter(household_invitations::expires_at.lt(before)))
        .execute(conn)?;
    Ok(())
}

/// Bumps the entitlement version of every member of a household whose holder subscribes to
/// the tier, in one statement.
pub(crate) fn bump_versions_of_tier_members(
    conn: &mut DbConnection,
    slug: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "INSERT INTO entitlement_versions (user_id, version) \
         SELECT DISTINCT household_members.member_id, 1 FROM household_members \
         JOIN subscriptions ON subscriptions.user_id = household_members.holder_id \
         WHERE subscriptions.tier_slug = $1 \
         ON CONFLICT (user_id) DO UPDATE SET version = entitlement_versions.version + 1",
    )
    .bind::<Text, _>(slug)
    .execute(conn)?)
}

/// Bumps the entitlement version of every member of a household whose holder has an
/// unrevoked grant of the product.
pub(crate) fn bump_versions_of_product_members(
    conn: &mut DbConnection,
    slug: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "INSERT INTO entitlement_versions (user_id, version) \
         SELECT DISTINCT household_members.member_id, 1 FROM household_members \
         JOIN product_grants ON product_grants.user_id = household_members.holder_id \
         WHERE product_grants.product_slug = $1 AND product_grants.revoked_at IS NULL \
         ON CONFLICT (user_id) DO UPDATE SET version = entitlement_versions.version + 1",
    )
    .bind::<Text, _>(slug)
    .execute(conn)?)
}
