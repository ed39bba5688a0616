//! Playback sessions ("streams") and their leases, the per-account row that serialises
//! starts, and the per-minute count of live streams.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use crate::foundation::store::schema::{stream_samples, streams};
use crate::foundation::store::{DbConnection, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = streams)]
pub struct Stream {
    pub id: String,
    /// The person whose limit the stream counts against.
    pub account_id: String,
    /// The person watching.
    pub viewer_id: String,
    /// The content server that started it; only it may keep it alive or stop it.
    pub client_id: String,
    pub device_id: String,
    pub content: Option<String>,
    pub started_at: i64,
    /// The end of the lease: the stream is over once this has passed without a heartbeat.
    pub expires_at: i64,
}

/// Holds every other start for `account_id` until this transaction ends: the account's row is
/// written (and so locked on PostgreSQL; SQLite has one writer at a time) before anything is
/// read.
pub(crate) fn lock_account(conn: &mut DbConnection, account_id: &str, now: i64) -> Result<(), StoreError> {
    // diesel's MultiConnection has no upsert builder; both databases accept this SQL.
    diesel::sql_query(
        "INSERT INTO stream_accounts (account_id, last_start_at) VALUES ($1, $2) \
         ON CONFLICT (account_id) DO UPDATE SET last_start_at = excluded.last_start_at",
    )
    .bind::<Text, _>(account_id)
    .bind::<BigInt, _>(now)
    .execute(conn)?;
    Ok(())
}

/// What a start needs to know of each of an account's streams to count them.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = streams)]
pub(crate) struct Slot {
    pub id: String,
    pub viewer_id: String,
    pub device_id: String,
    pub expires_at: i64,
}

/// The account's streams as a start counts them, expired ones included, oldest first.
pub(crate) fn slots_of_account(conn: &mut DbConnection, account_id: &str) -> Result<Vec<Slot>, StoreError> {
    Ok(streams::table
        .filter(streams::account_id.eq(account_id))
        .order((streams::started_at.asc(), streams::id.asc()))
        .select(Slot::as_select())
        .load(conn)?)
}

/// The account's streams, expired ones included, oldest first.
pub(crate) fn of_account(conn: &mut DbConnection, account_id: &str) -> Result<Vec<Stream>, StoreError> {
    Ok(streams::table
        .filter(streams::account_id.eq(account_id))
        .order((streams::started_at.asc(), streams::id.asc()))
        .select(Stream::as_select())
        .load(conn)?)
}

/// The account's streams whose lease is ahead of `now`, oldest first.
pub fn live_of_account(
    conn: &mut DbConnection,
    account_id: &str,
    now: i64,
) -> Result<Vec<Stream>, StoreError> {
    Ok(streams::table
        .filter(streams::account_id.eq(account_id))
        .filter(streams::expires_at.gt(now))
        .order((streams::started_at.asc(), streams::id.asc()))
        .select(Stream::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Stream>, StoreError> {
    Ok(streams::table
        .find(id)
        .select(Stream::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn insert(conn: &mut DbConnection, stream: &Stream) -> Result<(), StoreError> {
    diesel::insert_into(streams::table).values(stream).execute(conn)?;
    Ok(())
}

pub(crate) fn delete(conn: &mut DbConnection, ids: &[String]) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(streams::table.filter(streams::id.eq_any(ids))).execute(conn)?)
}

/// The ids of every stream the person watches.
pub(crate) fn ids_of_viewer(conn: &mut DbConnection, viewer_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(streams::table
        .filter(streams::viewer_id.eq(viewer_id))
        .select(streams::id)
        .load(conn)?)
}

/// Moves leases forward (never back: another instance may have moved one further); returns
/// the ids of those that no longer exist.
pub(crate) fn extend_leases(
    conn: &mut DbConnection,
    leases: &[(String, i64)],
) -> Result<Vec<String>, StoreError> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let unmoved: Vec<String> = match conn {
        DbConnection::Postgres(conn) => {
            // One statement for the whole batch: thousands of heartbeats a second.
            let ids: Vec<&str> = leases.iter().map(|(id, _)| id.as_str()).collect();
            let ends: Vec<i64> = leases.iter().map(|(_, expires_at)| *expires_at).collect();
            let found: HashSet<String> = diesel::sql_query(
                "UPDATE streams SET expires_at = GREATEST(streams.expires_at, lease.expires_at) \
                 FROM unnest($1::text[], $2::bigint[]) AS lease (id, expires_at) \
                 WHERE streams.id = lease.id RETURNING streams.id",
            )
            .bind::<Array<Text>, _>(ids)
            .bind::<Array<BigInt>, _>(ends)
            .load::<ExtendedId>(conn)?
            .into_iter()
            .map(|row| row.id)
            .collect();
            // RETURNING names every stream still there, moved or not: the rest are gone.
            return Ok(leases
                .iter()
                .filter(|(id, _)| !found.contains(id))
                .map(|(id, _)| id.clone())
                .collect());
        }
        DbConnection::Sqlite(_) => {
            // One prepared statement, run per lease: SQLite's statements are cheap, a round trip
            // is a function call. A lease already further on is not moved either; which of
            // those are gone is asked once for all of them.
            let mut unmoved = Vec::new();
            for (id, expires_at) in leases {
                let moved = diesel::update(
                    streams::table
                        .filter(streams::id.eq(id))
                        .filter(streams::expires_at.lt(*expires_at)),
                )
                .set(streams::expires_at.eq(*expires_at))
                .execute(conn)?;
                if moved == 0 {
                    unmoved.push(id.clone());
                }
            }
            unmoved
        }
    };
    if unmoved.is_empty() {
        return Ok(unmoved);
    }
    let mut still_there = HashSet::new();
    // In slices: SQLite binds at most 32,766 values in one statement.
    for ids in unmoved.chunks(1_000) {
        still_there.extend(
            streams::table
                .filter(streams::id.eq_any(ids))
                .select(streams::id)
                .load::<String>(conn)?,
        );
    }
    Ok(unmoved
        .into_iter()
        .filter(|id| !still_there.contains(id))
        .collect())
}

#[derive(QueryableByName)]
struct ExtendedId {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Deletes streams whose lease ended before `before`; returns how many.
pub(crate) fn delete_expired(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(streams::table.filter(streams::expires_at.lt(before))).execute(conn)?)
}

/// Streams live at `now`, across every account.
pub(crate) fn count_live(conn: &mut DbConnection, now: i64) -> Result<i64, StoreError> {
    Ok(streams::table
        .filter(streams::expires_at.gt(now))
        .count()
        .get_result(conn)?)
}

/// Records the count of live streams for `minute` (Unix seconds at the minute's start); the
/// first instance to record a minute wins.
pub fn record_sample(conn: &mut DbConnection, minute: i64, live: i64) -> Result<(), StoreError> {
    diesel::sql_query(
        "INSERT INTO stream_samples (minute, streams) VALUES ($1, $2) ON CONFLICT (minute) DO NOTHING",
    )
    .bind::<BigInt, _>(minute)
    .bind::<BigInt, _>(live)
    .execute(conn)?;
    Ok(())
}

/// The samples recorded from `since` on, oldest first: `(minute, live streams)`. At most one
/// a minute, so a day is at most 1,440 rows.
pub(crate) fn samples_since(conn: &mut DbConnection, since: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    Ok(stream_samples::table
        .filter(stream_samples::minute.ge(since))
        .order(stream_samples::minute.asc())
        .select((stream_samples::minute, stream_samples::streams))
        .load(conn)?)
}

/// Forgets samples older than `before`.
pub(crate) fn prune_samples(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(stream_samples::table.filter(stream_samples::minute.lt(before))).execute(conn)?)
}
