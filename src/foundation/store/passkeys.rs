//! Passkeys and the WebAuthn ceremonies in progress.

use diesel::prelude::*;

use crate::foundation::store::schema::{passkeys, webauthn_ceremonies};
use crate::foundation::store::{DbConnection, StoreError};

/// A registered passkey.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub name: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Adds a passkey; false when its credential id is already registered (to anyone).
pub fn insert(conn: &mut DbConnection, row: &PasskeyRow) -> Result<bool, StoreError> {
    match diesel::insert_into(passkeys::table).values(row).execute(conn) {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<PasskeyRow>, StoreError> {
    Ok(passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at.asc(), passkeys::id.asc()))
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

pub(crate) fn count_for_user(conn: &mut DbConnection, user_id: &str) -> Result<i64, StoreError> {
    Ok(passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .count()
        .get_result(conn)?)
}

pub(crate) fn find_by_credential_id(
    conn: &mut DbConnection,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, StoreError> {
    Ok(passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records a sign-in with the passkey and its updated record (counter, backup state), only if
/// the record is still `previous`: two sign-ins racing with the same counter (a cloned
/// authenticator) cannot both pass. Returns whether this one did.
pub(crate) fn record_use(
    conn: &mut DbConnection,
    id: &str,
    previous: &str,
    credential: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::credential.eq(previous)),
    )
    .set((
        passkeys::credential.eq(credential),
        passkeys::last_used_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Removes one of the person's passkeys; returns its name, None when it was not theirs.
pub(crate) fn delete_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(diesel::delete(
        passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::user_id.eq(user_id)),
    )
    .returning(passkeys::name)
    .get_result(conn)
    .optional()?)
}

/// A WebAuthn ceremony waiting for the browser's answer.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_ceremonies)]
pub(crate) struct Ceremony {
    pub id_hash: String,
    pub purpose: String,
    pub user_id: Option<String>,
    pub state: String,
    pub expires_at: i64,
}

pub(crate) fn insert_ceremony(
    conn: &mut DbConnection,
    ceremony: &Ceremony,
    now: i64,
) -> Result<(), StoreError> {
    // Abandoned ceremonies are swept here: every sign-in page may start one.
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.le(now)))
        .execute(conn)?;
    diesel::insert_into(webauthn_ceremonies::table)
        .values(ceremony)
        .execute(conn)?;
    Ok(())
}

/// Takes a live ceremony out of the table: whoever deletes it finishes it, so it works once.
pub(crate) fn take_ceremony(
    conn: &mut DbConnection,
    id_hash: &str,
    purpose: &str,
    now: i64,
) -> Result<Option<Ceremony>, StoreError> {
    let taken: Option<(Option<String>, String, i64)> = diesel::delete(
        webauthn_ceremonies::table
            .filter(webauthn_ceremonies::id_hash.eq(id_hash))
            .filter(webauthn_ceremonies::purpose.eq(purpose)),
    )
    .returning((
        webauthn_ceremonies::user_id,
        webauthn_ceremonies::state,
        webauthn_ceremonies::expires_at,
    ))
    .get_result(conn)
    .optional()?;
    Ok(taken
        .filter(|(_, _, expires_at)| *expires_at > now)
        .map(|(user_id, state, expires_at)| Ceremony {
            id_hash: id_hash.to_owned(),
            purpose: purpose.to_owned(),
            user_id,
            state,
            expires_at,
        }))
}
