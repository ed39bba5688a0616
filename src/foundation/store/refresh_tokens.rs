//! Refresh tokens, stored by the SHA-256 of the token, in families that share one lineage.

use diesel::prelude::*;

use diesel::sql_types::{BigInt, Text};

use crate::foundation::store::schema::{refresh_families, refresh_tokens};
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshRow {
    token_hash: String,
    family_id: String,
    client_id: String,
    user_id: String,
    sid: String,
    code_hash: String,
    scope: String,
    auth_time: i64,
    amr: String,
    created_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
    access_token_jti: Option<String>,
    access_token_expires_at: Option<i64>,
    profile_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    /// The authorization code the family descends from.
    pub code_hash: String,
    pub scope: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The access token issued together with this refresh token: its `jti` and expiry.
    pub access_token: Option<(String, i64)>,
    /// The profile the family's tokens speak for, with scope `profiles`.
    pub profile_id: Option<String>,
}

impl TryFrom<RefreshRow> for RefreshToken {
    type Error = StoreError;

    fn try_from(row: RefreshRow) -> Result<Self, StoreError> {
        Ok(Self {
            amr: decode_list("refresh_tokens.amr", &row.amr)?,
            token_hash: row.token_hash,
            family_id: row.family_id,
            client_id: row.client_id,
            user_id: row.user_id,
            sid: row.sid,
            code_hash: row.code_hash,
            scope: row.scope,
            auth_time: row.auth_time,
            created_at: row.created_at,
            expires_at: row.expires_at,
            rotated_at: row.rotated_at,
            revoked_at: row.revoked_at,
            access_token: row.access_token_jti.zip(row.access_token_expires_at),
            profile_id: row.profile_id,
        })
    }
}

/// Stores a refresh token, and its family when it is the first of it.
pub fn insert(conn: &mut DbConnection, token: &RefreshToken) -> Result<(), StoreError> {
    // MultiConnection has no upsert builder; both databases accept this SQL.
    diesel::sql_query(
        "INSERT INTO refresh_families (family_id, created_at, last_used_at, revoked_at) \
         VALUES ($1, $2, $2, NULL) ON CONFLICT (family_id) DO NOTHING",
    )
    .bind::<Text, _>(&token.family_id)
    .bind::<BigInt, _>(token.created_at)
    .execute(conn)?;
    diesel::insert_into(refresh_tokens::table)
        .values(RefreshRow {
            token_hash: token.token_hash.clone(),
            family_id: token.family_id.clone(),
            client_id: token.client_id.clone(),
            user_id: token.user_id.clone(),
            sid: token.sid.clone(),
            code_hash: token.code_hash.clone(),
            scope: token.scope.clone(),
            auth_time: token.auth_time,
            amr: encode_list(&token.amr),
            created_at: token.created_at,
            expires_at: token.expires_at,
            rotated_at: token.rotated_at,
            revoked_at: token.revoked_at,
            access_token_jti: token.access_token.as_ref().map(|(jti, _)| jti.clone()),
            access_token_expires_at: token.access_token.as_ref().map(|(_, expires_at)| *expires_at),
            profile_id: token.profile_id.clone(),
        })
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, token_hash: &str) -> Result<Option<RefreshToken>, StoreError> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshRow::as_select())
        .first(conn)
        .optional()?
        .map(RefreshToken::try_from)
        .transpose()
}

/// Takes the lock of the family of the token with `token_hash` for the rest of the
/// transaction: the first statement of a rotation. `false` when the token is unknown or its
/// family was revoked — a revocation holding the lock has then finished first.
pub(crate) fn lock_family_of(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let locked = diesel::update(
        refresh_families::table
            .filter(
                refresh_families::family_id.eq_any(
                    refresh_tokens::table
                        .filter(refresh_tokens::token_hash.eq(token_hash))
                        .select(refresh_tokens::family_id),
                ),
            )
            .filter(refresh_families::revoked_at.is_null()),
    )
    .set(refresh_families::last_used_at.eq(now))
    .execute(conn)?;
    Ok(locked > 0)
}

/// Marks a token rotated if it was not yet; returns whether this call did it.
pub fn mark_rotated(conn: &mut DbConnection, token_hash: &str, now: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(now))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Revokes the refresh tokens matching the filters and returns the access tokens (`jti`,
/// expiry) issued with any of them that have not expired, for the caller to revoke as well.
/// The access tokens are read before the update so rows revoked earlier are covered too:
/// revoking an access token twice is harmless.
macro_rules! revoke_where {
    ($conn:expr, $now:expr, $($filter:expr),+) => {{
        // The families first: a rotation in progress holds their lock, and one that starts
        // later finds them revoked.
        diesel::update(
            refresh_families::table
                .filter(refresh_families::family_id.eq_any(
                    refresh_tokens::table $(.filter($filter))+ .select(refresh_tokens::family_id),
                ))
                .filter(refresh_families::revoked_at.is_null()),
        )
        .set(refresh_families::revoked_at.eq($now))
        .execute($conn)?;
        let issued: Vec<(Option<String>, Option<i64>)> = refresh_tokens::table
            $(.filter($filter))+
            .filter(refresh_tokens::access_token_expires_at.gt($now))
            .select((refresh_tokens::access_token_jti, refresh_tokens::access_token_expires_at))
            .load($conn)?;
        diesel::update(refresh_tokens::table $(.filter($filter))+ .filter(refresh_tokens::revoked_at.is_null()))
            .set(refresh_tokens::revoked_at.eq($now))
            .execute($conn)?;
        Ok(issued.into_iter().filter_map(|(jti, expires_at)| jti.zip(expires_at)).collect())
    }};
}

/// Access tokens still to revoke after revoking refresh tokens: (`jti`, expiry).
pub(crate) type IssuedAccessTokens = Vec<(String, i64)>;

pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    revoke_where!(conn, now, refresh_tokens::family_id.eq(family_id))
}

pub fn revoke_for_code(
    conn: &mut DbConnection,
    code_hash: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    revoke_where!(conn, now, refresh_tokens::code_hash.eq(code_hash))
}

pub fn revoke_for_session(
    conn: &mut DbConnection,
    sid: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    revoke_where!(conn, now, refresh_tokens::sid.eq(sid))
}

/// What disabling an app ends: every refresh token it holds.
pub(crate) fn revoke_for_client(
    conn: &mut DbConnection,
    client_id: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    revoke_where!(conn, now, refresh_tokens::client_id.eq(client_id))
}

/// What changing a password ends: every refresh token of the person but those of the
/// session that changed it.
pub(crate) fn revoke_for_user_except_session(
    conn: &mut DbConnection,
    user_id: &str,
    sid: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    revoke_where!(
        conn,
        now,
        refresh_tokens::user_id.eq(user_id),
        refresh_tokens::sid.ne(sid)
    )
}

/// What withdrawing consent from an app ends.
pub(crate) fn revoke_for_user_and_client(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    revoke_where!(
        conn,
        now,
        refresh_tokens::user_id.eq(user_id),
        refresh_tokens::client_id.eq(client_id)
    )
}

pub(crate) fn revoke_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<IssuedAccessTokens, StoreError> {
    revoke_where!(conn, now, refresh_tokens::user_id.eq(user_id))
}

/// Moves the live refresh tokens of session `from` to session `to`.
pub(crate) fn move_to_session(conn: &mut DbConnection, from: &str, to: &str) -> Result<usize, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::sid.eq(from))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::sid.eq(to))
    .execute(conn)?)
}
