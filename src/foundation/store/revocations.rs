//! Revoked JWT access tokens, by `jti`, kept until the token would have expired anyway.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::foundation::store::changes::{self, ChangeKind};
use crate::foundation::store::schema::revoked_tokens;
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError};

/// Records a revocation and announces it on the change feed, atomically.
pub fn revoke(conn: &mut DbConnection, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
    transaction(conn, |conn| {
        // diesel's MultiConnection has no upsert builder; both databases accept this SQL and
        // both bind `$n` parameters by position.
        let inserted = diesel::sql_query(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind::<Text, _>(jti)
        .bind::<BigInt, _>(expires_at)
        .bind::<BigInt, _>(now)
        .execute(conn)?;
        // Zero rows: revoked already, and announced by whoever did it.
        if inserted == 0 {
            return Ok(());
        }
        changes::record(conn, ChangeKind::TokenRevoked, jti, Some(expires_at))
    })
}

/// Every revocation whose token has not expired yet: what a starting instance loads.
pub(crate) fn unexpired(conn: &mut DbConnection, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(revoked_tokens::table
        .filter(revoked_tokens::expires_at.gt(now))
        .select((revoked_tokens::jti, revoked_tokens::expires_at))
        .load(conn)?)
}

pub(crate) fn prune(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.le(now))).execute(conn)?)
}
