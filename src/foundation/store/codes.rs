//! Authorization codes, stored by the SHA-256 of the code.

use diesel::prelude::*;

use crate::foundation::store::schema::authorization_codes;
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
struct CodeRow {
    code_hash: String,
    client_id: String,
    user_id: String,
    sid: String,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: i64,
    amr: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    access_token_jti: Option<String>,
    access_token_expires_at: Option<i64>,
    profile_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// The S256 challenge; `None` when the (confidential) client sent none.
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The profile chosen at sign-in ("Who's watching?"), with scope `profiles`.
    pub profile_id: Option<String>,
}

/// What presenting a code found.
pub enum Redemption {
    /// First use: the code is now spent.
    Fresh(Box<AuthorizationCode>),
    /// Used before: whatever it issued must be revoked. Carries the access token it issued.
    Replayed {
        code_hash: String,
        access_token: Option<(String, i64)>,
    },
    Unknown,
}

pub fn insert(conn: &mut DbConnection, code: &AuthorizationCode) -> Result<(), StoreError> {
    diesel::insert_into(authorization_codes::table)
        .values(CodeRow {
            code_hash: code.code_hash.clone(),
            client_id: code.client_id.clone(),
            user_id: code.user_id.clone(),
            sid: code.sid.clone(),
            redirect_uri: code.redirect_uri.clone(),
            scope: code.scope.clone(),
            nonce: code.nonce.clone(),
            code_challenge: code.code_challenge.clone(),
            auth_time: code.auth_time,
            amr: encode_list(&code.amr),
            created_at: code.created_at,
            expires_at: code.expires_at,
            used_at: None,
            access_token_jti: None,
            access_token_expires_at: None,
            profile_id: code.profile_id.clone(),
        })
        .execute(conn)?;
    Ok(())
}

/// Spends a code for `client_id`: the first call of that client for a code gets it, every
/// later one learns it was replayed. The write comes first, so concurrent redemptions cannot
/// both win. Another client can neither spend the code nor count as a replay of it.
pub fn redeem(
    conn: &mut DbConnection,
    code_hash: &str,
    client_id: &str,
    now: i64,
) -> Result<Redemption, StoreError> {
    transaction(conn, |conn| {
        let spent = diesel::update(
            authorization_codes::table
                .filter(authorization_codes::code_hash.eq(code_hash))
                .filter(authorization_codes::client_id.eq(client_id))
                .filter(authorization_codes::used_at.is_null()),
        )
        .set(authorization_codes::used_at.eq(now))
        .execute(conn)?;
        let row = authorization_codes::table
            .filter(authorization_codes::code_hash.eq(code_hash))
            .select(CodeRow::as_select())
            .first(conn)
            .optional()?;
        let Some(row) = row.filter(|row| row.client_id == client_id) else {
            return Ok(Redemption::Unknown);
        };
        if spent == 0 {
            let access_token = row.access_token_jti.zip(row.access_token_expires_at);
            return Ok(Redemption::Replayed {
                code_hash: row.code_hash,
                access_token,
            });
        }
        Ok(Redemption::Fresh(Box::new(AuthorizationCode {
            amr: decode_list("authorization_codes.amr", &row.amr)?,
            code_hash: row.code_hash,
            client_id: row.client_id,
            user_id: row.user_id,
            sid: row.sid,
            redirect_uri: row.redirect_uri,
            scope: row.scope,
            nonce: row.nonce,
            code_challenge: row.code_challenge,
            auth_time: row.auth_time,
            created_at: row.created_at,
            expires_at: row.expires_at,
            profile_id: row.profile_id,
        })))
    })
}

/// Remembers the access token a code produced, so a replay of the code can revoke it.
pub fn record_access_token(
    conn: &mut DbConnection,
    code_hash: &str,
    jti: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    diesel::update(authorization_codes::table.filter(authorization_codes::code_hash.eq(code_hash)))
        .set((
            authorization_codes::access_token_jti.eq(jti),
            authorization_codes::access_token_expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}
