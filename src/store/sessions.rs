//! Browser sessions: what lets a signed-in person skip the login page in a second app.

use diesel::prelude::*;

use super::schema::sessions;
use super::{DbConnection, StoreError, decode_list, encode_list};

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
pub fn end_all_for_user(conn: &mut DbConnection, user_id: &str, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)?)
}

/// The live session with public id `sid`.
pub fn find_live_by_sid(conn: &mut DbConnection, sid: &str, now: i64) -> Result<Option<Session>, StoreError> {
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
