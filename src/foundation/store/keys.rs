//! Signing keys: public JWK in clear, private key sealed with the instance master key.

use diesel::prelude::*;

use crate::foundation::store::changes::{self, ChangeKind};
use crate::foundation::store::schema::signing_keys;
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub(crate) struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub public_jwk: String,
    pub sealed_private_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub publish_until: Option<i64>,
}

/// Keys still published at `now`: the active ones and retired ones whose tokens may live on.
pub(crate) fn published(conn: &mut DbConnection, now: i64) -> Result<Vec<StoredKey>, StoreError> {
    Ok(signing_keys::table
        .filter(
            signing_keys::publish_until
                .is_null()
                .or(signing_keys::publish_until.gt(now)),
        )
        .order(signing_keys::created_at.asc())
        .select(StoredKey::as_select())
        .load(conn)?)
}

pub(crate) fn count_all(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(signing_keys::table.count().get_result(conn)?)
}

/// Makes `new_keys` the active keys: every key active before is retired now and stays
/// published until `publish_until`. One transaction, announced on the change feed.
pub(crate) fn activate(
    conn: &mut DbConnection,
    new_keys: &[StoredKey],
    now: i64,
    publish_until: i64,
) -> Result<(), StoreError> {
    transaction(conn, |conn| {
        diesel::update(signing_keys::table.filter(signing_keys::retired_at.is_null()))
            .set((
                signing_keys::retired_at.eq(now),
                signing_keys::publish_until.eq(publish_until),
            ))
            .execute(conn)?;
        insert_all(conn, new_keys)?;
        changes::record(conn, ChangeKind::KeysChanged, "", None)
    })
}

/// Takes the retired key `kid` out of the JWKS from `now` on, announced on the change feed;
/// false when it is not a retired key still published. Active keys are never touched here.
pub(crate) fn withdraw(conn: &mut DbConnection, kid: &str, now: i64) -> Result<bool, StoreError> {
    transaction(conn, |conn| {
        let updated = diesel::update(
            signing_keys::table
                .filter(signing_keys::kid.eq(kid))
                .filter(signing_keys::retired_at.is_not_null())
                .filter(signing_keys::publish_until.gt(now)),
        )
        .set(signing_keys::publish_until.eq(now))
        .execute(conn)?;
        if updated == 0 {
            return Ok(false);
        }
        changes::record(conn, ChangeKind::KeysChanged, "", None)?;
        Ok(true)
    })
}

/// Inserts `new_keys` only when the database holds no key at all: first start.
/// Returns whether they were inserted.
pub(crate) fn insert_if_empty(conn: &mut DbConnection, new_keys: &[StoredKey]) -> Result<bool, StoreError> {
    transaction(conn, |conn| {
        if count_all(conn)? > 0 {
            return Ok(false);
        }
        insert_all(conn, new_keys)?;
        changes::record(conn, ChangeKind::KeysChanged, "", None)?;
        Ok(true)
    })
}

fn insert_all(conn: &mut DbConnection, new_keys: &[StoredKey]) -> Result<(), StoreError> {
    for key in new_keys {
        diesel::insert_into(signing_keys::table)
            .values(key)
            .execute(conn)?;
    }
    Ok(())
}
