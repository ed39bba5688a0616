//! Second-factor records: a person's TOTP credential, their recovery codes, and sign-ins
//! waiting for a code.

use diesel::prelude::*;

use crate::foundation::store::schema::{login_challenges, recovery_codes, totp_credentials};
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError};

/// A TOTP credential; unconfirmed until the person types a first code from it.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_credentials)]
pub(crate) struct TotpCredential {
    pub user_id: String,
    pub sealed_secret: String,
    pub confirmed_at: Option<i64>,
    pub last_used_step: i64,
    pub created_at: i64,
}

pub(crate) fn find(conn: &mut DbConnection, user_id: &str) -> Result<Option<TotpCredential>, StoreError> {
    Ok(totp_credentials::table
        .find(user_id)
        .select(TotpCredential::as_select())
        .first(conn)
        .optional()?)
}

/// Replaces any unconfirmed credential of the person; a confirmed one is left alone
/// (returns false), so a stale setup page cannot overwrite a working authenticator.
pub(crate) fn start(conn: &mut DbConnection, credential: &TotpCredential) -> Result<bool, StoreError> {
    transaction(conn, |conn| {
        // Unconfirmed credentials go first, so what `find` still sees is a confirmed one.
        diesel::delete(
            totp_credentials::table
                .filter(totp_credentials::user_id.eq(&credential.user_id))
                .filter(totp_credentials::confirmed_at.is_null()),
        )
        .execute(conn)?;
        if find(conn, &credential.user_id)?.is_some() {
            return Ok(false);
        }
        diesel::insert_into(totp_credentials::table)
            .values(credential)
            .execute(conn)?;
        Ok(true)
    })
}

/// Records that `step` was used, only if it is later than the last one used; returns whether
/// it was. One conditional update, so two requests with the same code cannot both win.
pub(crate) fn use_step(conn: &mut DbConnection, user_id: &str, step: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        totp_credentials::table
            .find(user_id)
            .filter(totp_credentials::last_used_step.lt(step)),
    )
    .set(totp_credentials::last_used_step.eq(step))
    .execute(conn)?;
    Ok(updated == 1)
}

pub(crate) fn confirm(conn: &mut DbConnection, user_id: &str, now: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        totp_credentials::table
            .find(user_id)
            .filter(totp_credentials::confirmed_at.is_null()),
    )
    .set(totp_credentials::confirmed_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Removes the credential and the recovery codes that came with it; whether there was one.
pub(crate) fn delete(conn: &mut DbConnection, user_id: &str) -> Result<bool, StoreError> {
    let deleted = diesel::delete(totp_credentials::table.find(user_id)).execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
    Ok(deleted == 1)
}

/// Replaces the person's recovery codes with these hashes.
pub(crate) fn replace_recovery_codes(
    conn: &mut DbConnection,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
    for hash in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Marks an unused recovery code used; returns whether there was one. The update decides,
/// so a code raced from two browsers works once.
pub(crate) fn use_recovery_code(
    conn: &mut DbConnection,
    user_id: &str,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        recovery_codes::table
            .find((user_id, hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

pub(crate) fn unused_recovery_codes(conn: &mut DbConnection, user_id: &str) -> Result<i64, StoreError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// A password sign-in waiting for its second factor.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_challenges)]
pub(crate) struct LoginChallenge {
    pub id_hash: String,
    pub user_id: String,
    pub carried_request: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: i32,
    /// The `amr` value of the sign-in's first step: `pwd` or `email`.
    pub first_factor: String,
}

pub(crate) fn insert_challenge(
    conn: &mut DbConnection,
    challenge: &LoginChallenge,
) -> Result<(), StoreError> {
    // Expired challenges are swept here: they are useless and few.
    diesel::delete(login_challenges::table.filter(login_challenges::expires_at.le(challenge.created_at)))
        .execute(conn)?;
    diesel::insert_into(login_challenges::table)
        .values(challenge)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn find_live_challenge(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<LoginChallenge>, StoreError> {
    Ok(login_challenges::table
        .find(id_hash)
        .filter(login_challenges::expires_at.gt(now))
        .select(LoginChallenge::as_select())
        .first(conn)
        .optional()?)
}

/// Counts a wrong code against the challenge; returns the attempts made so far.
pub(crate) fn count_failure(conn: &mut DbConnection, id_hash: &str) -> Result<i32, StoreError> {
    let attempts: Option<i32> = diesel::update(login_challenges::table.find(id_hash))
        .set(login_challenges::attempts.eq(login_challenges::attempts + 1))
        .returning(login_challenges::attempts)
        .get_result(conn)
        .optional()?;
    Ok(attempts.unwrap_or(i32::MAX))
}

/// Ends a challenge; returns whether it was still there, so only one request finishes it.
pub(crate) fn delete_challenge(conn: &mut DbConnection, id_hash: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(login_challenges::table.find(id_hash)).execute(conn)? == 1)
}
