//! The access tokens issued on a person's behalf, kept until they expire. Whatever ends a
//! session, a device's sign-in, an app's access or a whole account finds here every access
//! token it ends, those issued without a refresh token included, to revoke them by `jti`.

use diesel::prelude::*;

use crate::foundation::store::refresh_tokens::IssuedAccessTokens;
use crate::foundation::store::schema::{clients, issued_access_tokens, revoked_tokens};
use crate::foundation::store::{DbConnection, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, Insertable)]
#[diesel(table_name = issued_access_tokens)]
pub(crate) struct IssuedAccessToken {
    pub jti: String,
    pub user_id: String,
    pub client_id: String,
    /// The browser session it was issued in, or the device sign-in it belongs to.
    pub sid: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub(crate) fn record(conn: &mut DbConnection, token: &IssuedAccessToken) -> Result<(), StoreError> {
    diesel::insert_into(issued_access_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

/// The unexpired access tokens matching the filters: (`jti`, expiry).
macro_rules! live_where {
    ($conn:expr, $now:expr, $($filter:expr),+) => {{
        Ok(issued_access_tokens::table
            $(.filter($filter))+
            .filter(issued_access_tokens::expires_at.gt($now))
            .select((issued_access_tokens::jti, issued_access_tokens::expires_at))
            .load($conn)?)
    }};
}

pub(crate) fn live_for_session(
    conn: &mut DbConnection,
    sid: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    live_where!(conn, now, issued_access_tokens::sid.eq(sid))
}

pub(crate) fn live_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    live_where!(conn, now, issued_access_tokens::user_id.eq(user_id))
}

pub(crate) fn live_for_user_except_session(
    conn: &mut DbConnection,
    user_id: &str,
    sid: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    live_where!(
        conn,
        now,
        issued_access_tokens::user_id.eq(user_id),
        issued_access_tokens::sid.ne(sid)
    )
}

pub(crate) fn live_for_user_and_client(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    live_where!(
        conn,
        now,
        issued_access_tokens::user_id.eq(user_id),
        issued_access_tokens::client_id.eq(client_id)
    )
}

/// The unexpired, unrevoked access tokens of the person's sign-ins whose sid starts with
/// `sid_prefix`, to apps that are not disabled: (sid, the app's name, issued at).
pub(crate) fn live_sign_ins(
    conn: &mut DbConnection,
    user_id: &str,
    sid_prefix: &str,
    now: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(issued_access_tokens::table
        .inner_join(clients::table.on(clients::client_id.eq(issued_access_tokens::client_id)))
        .filter(issued_access_tokens::user_id.eq(user_id))
        .filter(issued_access_tokens::sid.like(format!("{sid_prefix}%")))
        .filter(issued_access_tokens::expires_at.gt(now))
        .filter(clients::disabled_at.is_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            revoked_tokens::table.filter(revoked_tokens::jti.eq(issued_access_tokens::jti)),
        )))
        .select((
            issued_access_tokens::sid,
            clients::name,
            issued_access_tokens::created_at,
        ))
        .load(conn)?)
}

/// Whether `sid` is a sign-in of the person with an unexpired access token, revoked or not.
pub(crate) fn holds_live(
    conn: &mut DbConnection,
    user_id: &str,
    sid: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let found: i64 = issued_access_tokens::table
        .filter(issued_access_tokens::user_id.eq(user_id))
        .filter(issued_access_tokens::sid.eq(sid))
        .filter(issued_access_tokens::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

pub(crate) fn prune(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(issued_access_tokens::table.filter(issued_access_tokens::expires_at.le(now)))
            .execute(conn)?,
    )
}
