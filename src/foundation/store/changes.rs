//! The change feed: how one instance tells every other instance sharing the database that
//! an in-memory view (revocations, keys) must be updated.

use diesel::dsl::sql;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

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
    /// A stream ended before its lease (stopped, replaced, its viewer signed out); the
    /// subject is its id.
    StreamEnded,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::TokenRevoked => "token_revoked",
            Self::KeysChanged => "keys_changed",
            Self::EntitlementsChanged => "entitlements_changed",
            Self::CatalogChanged => "catalog_changed",
            Self::ClientChanged => "client_changed",
            Self::StreamEnded => "stream_ended",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "token_revoked" => Some(Self::TokenRevoked),
            "keys_changed" => Some(Self::KeysChanged),
            "entitlements_changed" => Some(Self::EntitlementsChanged),
            "catalog_changed" => Some(Self::CatalogChanged),
            "client_changed" => Some(Self::ClientChanged),
            "stream_ended" => Some(Self::StreamEnded),
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
    /// The writing transaction's id on PostgreSQL; 0 on SQLite.
    pub tx: i64,
}

/// Where a follower is in the feed.
///
/// On PostgreSQL, ids cannot be the position: a transaction takes its event's id when it
/// writes and may commit any time later, after events with higher ids were read. So the
/// position is the oldest transaction that might still commit (the snapshot's `xmin`): every
/// event of an older transaction is visible and final, and events of that one or younger ones
/// are read again at every poll until the position passes them. However long a transaction
/// stays open, its event is read once it commits.
///
/// SQLite serialises writes: an event is committed before the next one gets an id, so the
/// last id read is an exact position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    AfterId(i64),
    FromTransaction(i64),
}

impl Position {
    /// Whether a later read may return `event` again (so its id must be remembered).
    pub(crate) fn may_return(self, event_tx: i64) -> bool {
        match self {
            Self::AfterId(_) => false,
            Self::FromTransaction(oldest) => event_tx >= oldest,
        }
    }
}

/// Records a change, stamped with the database's clock: every instance prunes by the same
/// clock, whatever its own says and however long the request waited before writing.
pub(crate) fn record(
    conn: &mut DbConnection,
    kind: ChangeKind,
    subject: &str,
    expires_at: Option<i64>,
) -> Result<(), StoreError> {
    let database_now = match conn {
        DbConnection::Sqlite(_) => "CAST(strftime('%s', 'now') AS BIGINT)",
        DbConnection::Postgres(_) => "CAST(extract(epoch FROM clock_timestamp()) AS BIGINT)",
    };
    diesel::insert_into(change_events::table)
        .values((
            change_events::kind.eq(kind.as_str()),
            change_events::subject.eq(subject),
            change_events::expires_at.eq(expires_at),
            change_events::created_at.eq(sql::<BigInt>(database_now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The oldest transaction that may still commit; on PostgreSQL only.
fn oldest_open_transaction(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(diesel::select(sql::<BigInt>("txid_snapshot_xmin(txid_current_snapshot())")).get_result(conn)?)
}

/// The position of an instance starting now, and the events already visible that it must not
/// apply (what they changed is in the state it loads after this).
pub(crate) fn start(conn: &mut DbConnection) -> Result<(Position, Vec<ChangeEvent>), StoreError> {
    match conn {
        DbConnection::Sqlite(_) => {
            let latest: Option<i64> = change_events::table
                .select(diesel::dsl::max(change_events::id))
                .first(conn)?;
            Ok((Position::AfterId(latest.unwrap_or(0)), Vec::new()))
        }
        DbConnection::Postgres(pg) => {
            let oldest = oldest_open_transaction(pg)?;
            let position = Position::FromTransaction(oldest);
            Ok((position, read_from(conn, position)?))
        }
    }
}

/// The events at or after `position`, and the position to read from next time.
pub(crate) fn read(
    conn: &mut DbConnection,
    position: Position,
) -> Result<(Vec<ChangeEvent>, Position), StoreError> {
    match (position, &mut *conn) {
        (Position::FromTransaction(_), DbConnection::Postgres(pg)) => {
            // Taken before the read: every transaction older than it has finished, so all
            // their events are visible to the read that follows.
            let next = Position::FromTransaction(oldest_open_transaction(pg)?);
            Ok((read_from(conn, position)?, next))
        }
        (Position::AfterId(after), _) => {
            let events = read_from(conn, position)?;
            let last = events.iter().map(|event| event.id).max().unwrap_or(after);
            Ok((events, Position::AfterId(last)))
        }
        (Position::FromTransaction(_), DbConnection::Sqlite(_)) => Err(StoreError::Corrupt(
            "a PostgreSQL change feed position on SQLite".into(),
        )),
    }
}

fn read_from(conn: &mut DbConnection, position: Position) -> Result<Vec<ChangeEvent>, StoreError> {
    let query = change_events::table
        .order(change_events::id.asc())
        .select((
            change_events::id,
            change_events::kind,
            change_events::subject,
            change_events::expires_at,
            change_events::tx,
        ))
        .into_boxed();
    let query = match position {
        Position::AfterId(after) => query.filter(change_events::id.gt(after)),
        Position::FromTransaction(oldest) => query.filter(change_events::tx.ge(oldest)),
    };
    let rows: Vec<(i64, String, String, Option<i64>, i64)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, subject, expires_at, tx)| {
            ChangeKind::parse(&kind).map(|kind| ChangeEvent {
                id,
                kind,
                subject,
                expires_at,
                tx,
            })
        })
        .collect())
}

/// Drops events older than `before`; instances only ever look a few seconds back.
pub(crate) fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(change_events::table.filter(change_events::created_at.lt(before))).execute(conn)?)
}
