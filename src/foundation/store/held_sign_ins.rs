//! Sign-ins held because the account had no device to spare, until the person signs one out.

use diesel::prelude::*;

use crate::foundation::store::schema::held_sign_ins;
use crate::foundation::store::{DbConnection, StoreError, decode_list, encode_list};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = held_sign_ins)]
struct Row {
    id_hash: String,
    user_id: String,
    amr: String,
    continue_to: String,
    created_at: i64,
    expires_at: i64,
}

/// A held sign-in. `id_hash` is the SHA-256 of the token in the browser's cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeldSignIn {
    pub id_hash: String,
    pub user_id: String,
    /// How the person proved who they are, for the session the sign-in finishes with.
    pub amr: Vec<String>,
    /// Where the person goes once signed in.
    pub continue_to: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Stores a held sign-in; expired ones are swept first (they are useless and few).
pub(crate) fn insert(conn: &mut DbConnection, held: &HeldSignIn) -> Result<(), StoreError> {
    diesel::delete(held_sign_ins::table.filter(held_sign_ins::expires_at.le(held.created_at)))
        .execute(conn)?;
    diesel::insert_into(held_sign_ins::table)
        .values(Row {
            id_hash: held.id_hash.clone(),
            user_id: held.user_id.clone(),
            amr: encode_list(&held.amr),
            continue_to: held.continue_to.clone(),
            created_at: held.created_at,
            expires_at: held.expires_at,
        })
        .execute(conn)?;
    Ok(())
}

/// The held sign-in behind a cookie's token hash, unless it expired by `now`.
pub(crate) fn find_live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<HeldSignIn>, StoreError> {
    let row = held_sign_ins::table
        .find(id_hash)
        .filter(held_sign_ins::expires_at.gt(now))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| {
        Ok(HeldSignIn {
            amr: decode_list("held_sign_ins.amr", &row.amr)?,
            id_hash: row.id_hash,
            user_id: row.user_id,
            continue_to: row.continue_to,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    })
    .transpose()
}

/// Ends a held sign-in; returns whether it was still there, so only one request finishes it.
pub(crate) fn delete(conn: &mut DbConnection, id_hash: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(held_sign_ins::table.find(id_hash)).execute(conn)? == 1)
}

/// Forgets every held sign-in of the person (after a new password, none may finish).
pub(crate) fn forget_for_user(conn: &mut DbConnection, user_id: &str) -> Result<(), StoreError> {
    diesel::delete(held_sign_ins::table.filter(held_sign_ins::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}
