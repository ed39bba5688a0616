//! The change feed: how one instance tells every other instance sharing the database that
//! an in-memory view (revocations, keys) must be updated.

use diesel::prelude::*;

use crate::foundation::store::schema::change_events;
use crate::foundation::store::{DbConnection, StoreError};

/// What changed. Stored as text so new kinds need no migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    TokenRevoked,
    KeysChanged,
    /// One person's entitlements changed; the subject is their user id.
    EntitlementsChanged,
    /// A tier or product changed, which touches everyone holding it; the subject is its slug.
    CatalogChanged,
    /// A client's secret was replaced or the client disabled; the subject is its client id.
    ClientChanged,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::TokenRevoked => "token_revoked",
            Self::KeysChanged => "keys_changed",
            Self::EntitlementsChanged => "entitlements_changed",
            Self::CatalogChanged => "catalog_changed",
            Self::ClientChanged => "client_changed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "token_revoked" => Some(Self::TokenRevoked),
            "keys_changed" => Some(Self::KeysChanged),
            "entitlements_changed" => Some(Self::EntitlementsChanged),
            "catalog_changed" => Some(Self::CatalogChanged),
            "client_changed" => Some(Self::ClientChanged),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChangeEvent {
    pub id: i64,
    pub kind: ChangeKind,
    pub subject: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = change_events)]
struct NewChangeEvent<'a> {
    kind: &'a str,
    subject: &'a str,
    expires_at: Option<i64>,
    created_at: i64,
}

pub(crate) fn record(
    conn: &mut DbConnection,
    kind: ChangeKind,
    subject: &str,
    expires_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(change_events::table)
        .values(NewChangeEvent {
            kind: kind.as_str(),
            subject,
            expires_at,
            created_at: now,
        })
        .execute(conn)?;
    Ok(())
}

/// Events with an id above `after_id` or created at or after `since`. The time window catches
/// PostgreSQL rows whose sequence number was taken before a row already seen but committed
/// after it; callers skip ids they have already applied.
pub(crate) fn since(
    conn: &mut DbConnection,
    after_id: i64,
    since: i64,
) -> Result<Vec<ChangeEvent>, StoreError> {
    let rows: Vec<(i64, String, String, Option<i64>, i64)> = change_events::table
        .filter(
            change_events::id
                .gt(after_id)
                .or(change_events::created_at.ge(since)),
        )
        .order(change_events::id.asc())
        .select((
            change_events::id,
            change_events::kind,
            change_events::subject,
            change_events::expires_at,
            change_events::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, subject, expires_at, created_at)| {
            ChangeKind::parse(&kind).map(|kind| ChangeEvent {
                id,
                kind,
                subject,
                expires_at,
                created_at,
            })
        })
        .collect())
}

/// The highest event id, so a starting instance only follows what happens after it loaded.
pub(crate) fn latest_id(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let latest: Option<i64> = change_events::table
        .select(diesel::dsl::max(change_events::id))
        .first(conn)?;
    Ok(latest.unwrap_or(0))
}

/// Drops events older than `before`; instances only ever look a few seconds back.
pub(crate) fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(change_events::table.filter(change_events::created_at.lt(before))).execute(conn)?)
}
