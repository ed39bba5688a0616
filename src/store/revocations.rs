//! Revoked JWT access tokens, by `jti`, kept until the token would have expired anyway.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::changes::{self, ChangeKind};
use super::schema::revoked_tokens;
use super::{DbConnection, StoreError};

/// Records a revocation and announces it on the change feed, atomically.
pub fn revoke(conn: &mut DbConnection, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        let already = revoked_tokens::table
            .filter(revoked_tokens::jti.eq(jti))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if already {
            return Ok(());
        }
        let inserted = diesel::insert_into(revoked_tokens::table)
            .values((
                revoked_tokens::jti.eq(jti),
                revoked_tokens::expires_at.eq(expires_at),
                revoked_tokens::revoked_at.eq(now),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => changes::record(conn, ChangeKind::TokenRevoked, jti, Some(expires_at), now),
            // Revoked concurrently by another request: the other one announced it.
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    })
}

/// Every revocation whose token has not expired yet: what a starting instance loads.
pub fn unexpired(conn: &mut DbConnection, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(revoked_tokens::table
        .filter(revoked_tokens::expires_at.gt(now))
        .select((revoked_tokens::jti, revoked_tokens::expires_at))
        .load(conn)?)
}

pub fn prune(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.le(now))).execute(conn)?)
}
