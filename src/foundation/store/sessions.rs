//! Browser sessions: what lets a signed-in person skip the login page in a second app.

use diesel::prelude::*;

use crate::foundation::store::schema::sessions;
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id_hash: String,
    sid: String,
    user_id: String,
    auth_time: i64,
    amr: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    ended_at: Option<i64>,
    user_agent: String,
}

/// A session. `id_hash` is the SHA-256 of the cookie's token; `sid` the public id in ID tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: String,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(Self {
            amr: decode_list("sessions.amr", &row.amr)?,
            id_hash: row.id_hash,
            sid: row.sid,
            user_id: row.user_id,
            auth_time: row.auth_time,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
            user_agent: row.user_agent,
        })
    }
}

pub fn insert(conn: &mut DbConnection, session: &Session) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values(SessionRow {
            id_hash: session.id_hash.clone(),
            sid: session.sid.clone(),
            user_id: session.user_id.clone(),
            auth_time: session.auth_time,
            amr: encode_list(&session.amr),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.expires_at,
            ended_at: None,
            user_agent: session.user_agent.clone(),
        })
        .execute(conn)?;
    Ok(())
}

/// The session behind a cookie, if it has not ended and has not expired by `now`.
pub fn find_live(conn: &mut DbConnection, id_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
    let row = sessions::table
        .filter(sessions::id_hash.eq(id_hash))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?;
    row.map(Session::try_from).transpose()
}

pub fn touch(conn: &mut DbConnection, id_hash: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(sessions::table.filter(sessions::id_hash.eq(id_hash)))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Ends the session with public id `sid`; returns whether one was live.
pub fn end(conn: &mut DbConnection, sid: &str, now: i64) -> Result<bool, StoreError> {
    let ended = diesel::update(
        sessions::table
            .filter(sessions::sid.eq(sid))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)?;
    Ok(ended > 0)
}

/// The live sessions of a person, newest first.
pub fn list_live_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<Session>, StoreError> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Session::try_from)
        .collect()
}

/// Ends every live session of a person; returns how many.
pub(crate) fn end_all_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)?)
}

/// Ends every session of the person but `sid`.
pub(crate) fn end_all_for_user_except(
    conn: &mut DbConnection,
    user_id: &str,
    sid: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::sid.ne(sid))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)?)
}

/// The live session with public id `sid`.
pub(crate) fn find_live_by_sid(
    conn: &mut DbConnection,
    sid: &str,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    sessions::table
        .filter(sessions::sid.eq(sid))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?
        .map(Session::try_from)
        .transpose()
}

/// How many sessions started in `[since, until)`, per UTC day (days since 1970-01-01) and
/// `amr` (as stored): one row per day and combination of methods, however many sessions.
/// Sessions are never deleted, only ended, so these are all the sign-ins of the period.
/// Scans the period's rows in the database; only the counts come back.
pub(crate) fn started_per_day(
    conn: &mut DbConnection,
    since: i64,
    until: i64,
) -> Result<Vec<(i64, Vec<String>, i64)>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        day: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        amr: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        started: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT created_at / 86400 AS day, amr, COUNT(*) AS started FROM sessions \
         WHERE created_at >= $1 AND created_at < $2 GROUP BY created_at / 86400, amr",
    )
    .bind::<diesel::sql_types::BigInt, _>(since)
    .bind::<diesel::sql_types::BigInt, _>(until)
    .load(conn)?;
    rows.into_iter()
        .map(|row| Ok((row.day, decode_list("sessions.amr", &row.amr)?, row.started)))
        .collect()
}

/// Writes sessions that ended at the time given with each (demo data): they count as
/// sign-ins but let nobody in. Each takes 10 bound parameters: keep batches to a few
/// thousand.
pub(crate) fn insert_ended(conn: &mut DbConnection, batch: &[(Session, i64)]) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    // Every column a value (no DEFAULT): SQLite takes many rows in one statement only then.
    #[derive(Insertable)]
    #[diesel(table_name = sessions)]
    struct EndedRow<'a> {
        id_hash: &'a str,
        sid: &'a str,
        user_id: &'a str,
        auth_time: i64,
        amr: String,
        created_at: i64,
        last_seen_at: i64,
        expires_at: i64,
        ended_at: i64,
        user_agent: &'a str,
    }
    let rows: Vec<EndedRow<'_>> = batch
        .iter()
        .map(|(session, ended_at)| EndedRow {
            id_hash: &session.id_hash,
            sid: &session.sid,
            user_id: &session.user_id,
            auth_time: session.auth_time,
            amr: encode_list(&session.amr),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.expires_at,
            ended_at: *ended_at,
            user_agent: &session.user_agent,
        })
        .collect();
    // On the backend's own connection: diesel's multi-connection has no multi-row insert.
    let insert = diesel::insert_into(sessions::table).values(&rows);
    match conn {
        DbConnection::Sqlite(conn) => insert.execute(conn)?,
        DbConnection::Postgres(conn) => insert.execute(conn)?,
    };
    Ok(())
}
