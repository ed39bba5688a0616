//! Counters every instance on the database shares: one row per key, counting within a fixed
//! window that starts at the key's first count. What a key means is the domain's business.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::foundation::store::schema::shared_limits;
use crate::foundation::store::{DbConnection, StoreError};

/// A key's count in its current window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, QueryableByName)]
pub(crate) struct Window {
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub window_end: i64,
}

/// Counts one more against `key` and returns its window: a new one of `window_secs` from
/// `now` when the last has ended. One statement, so instances counting the same key at once
/// each get a distinct count.
pub(crate) fn count_one(
    conn: &mut DbConnection,
    key: &str,
    window_secs: i64,
    now: i64,
) -> Result<Window, StoreError> {
    // diesel's MultiConnection has no upsert builder; both databases accept this SQL, bind
    // `$n` by position and evaluate every SET expression against the row as it was.
    Ok(diesel::sql_query(
        "INSERT INTO shared_limits (limit_key, window_start, window_end, count) \
         VALUES ($1, $2, $3, 1) \
         ON CONFLICT (limit_key) DO UPDATE SET \
         count = CASE WHEN shared_limits.window_end <= excluded.window_start \
                 THEN 1 ELSE shared_limits.count + 1 END, \
         window_start = CASE WHEN shared_limits.window_end <= excluded.window_start \
                 THEN excluded.window_start ELSE shared_limits.window_start END, \
         window_end = CASE WHEN shared_limits.window_end <= excluded.window_start \
                 THEN excluded.window_end ELSE shared_limits.window_end END \
         RETURNING count, window_end",
    )
    .bind::<Text, _>(key)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(now + window_secs)
    .get_result(conn)?)
}

/// Takes back one count of `key` in its current window (what [`count_one`] counted for an
/// attempt that turned out right).
pub(crate) fn uncount_one(conn: &mut DbConnection, key: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(
        shared_limits::table
            .find(key)
            .filter(shared_limits::window_end.gt(now))
            .filter(shared_limits::count.gt(0)),
    )
    .set(shared_limits::count.eq(shared_limits::count - 1))
    .execute(conn)?;
    Ok(())
}

/// Forgets `key`'s count.
pub(crate) fn forget(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(shared_limits::table.find(key)).execute(conn)?;
    Ok(())
}

/// Forgets every window that has ended.
pub(crate) fn prune(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(shared_limits::table.filter(shared_limits::window_end.le(now))).execute(conn)?)
}

/// `key`'s count in its current window; None when it has none.
pub(crate) fn current(conn: &mut DbConnection, key: &str, now: i64) -> Result<Option<Window>, StoreError> {
    Ok(shared_limits::table
        .find(key)
        .filter(shared_limits::window_end.gt(now))
        .select((shared_limits::count, shared_limits::window_end))
        .first::<(i64, i64)>(conn)
        .optional()?
        .map(|(count, window_end)| Window { count, window_end }))
}
