//! Emailed sign-in links, stored by the SHA-256 of their token.

use diesel::prelude::*;

use crate::foundation::store::schema::{login_challenges, sign_in_links};
use crate::foundation::store::{DbConnection, StoreError};

/// An emailed sign-in link.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_links)]
pub(crate) struct SignInLink {
    pub token_hash: String,
    pub email: String,
    pub user_id: Option<String>,
    pub carried_request: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub(crate) fn insert_link(conn: &mut DbConnection, link: &SignInLink) -> Result<(), StoreError> {
    diesel::insert_into(sign_in_links::table)
        .values(link)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn find_live_link(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<SignInLink>, StoreError> {
    Ok(sign_in_links::table
        .find(token_hash)
        .filter(sign_in_links::used_at.is_null())
        .filter(sign_in_links::expires_at.gt(now))
        .select(SignInLink::as_select())
        .first(conn)
        .optional()?)
}

/// Spends a live link; returns it when this call spent it. One conditional update decides,
/// so two clicks racing each other sign in once.
pub(crate) fn use_link(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<SignInLink>, StoreError> {
    let spent = diesel::update(
        sign_in_links::table
            .find(token_hash)
            .filter(sign_in_links::used_at.is_null())
            .filter(sign_in_links::expires_at.gt(now)),
    )
    .set(sign_in_links::used_at.eq(now))
    .returning((
        sign_in_links::email,
        sign_in_links::user_id,
        sign_in_links::carried_request,
        sign_in_links::created_at,
        sign_in_links::expires_at,
    ))
    .get_result::<(String, Option<String>, String, i64, i64)>(conn)
    .optional()?;
    Ok(spent.map(
        |(email, user_id, carried_request, created_at, expires_at)| SignInLink {
            token_hash: token_hash.to_owned(),
            email,
            user_id,
            carried_request,
            created_at,
            expires_at,
            used_at: Some(now),
        },
    ))
}

/// Forgets links that stopped working before `before` (a household invitation's works for
/// days, an ordinary one for minutes).
pub(crate) fn prune_links(conn: &mut DbConnection, before: i64) -> Result<(), StoreError> {
    diesel::delete(sign_in_links::table.filter(sign_in_links::expires_at.lt(before))).execute(conn)?;
    Ok(())
}

/// Forgets one link, used or not: its household invitation was cancelled or replaced.
pub(crate) fn delete_link(conn: &mut DbConnection, token_hash: &str) -> Result<(), StoreError> {
    diesel::delete(sign_in_links::table.find(token_hash)).execute(conn)?;
    Ok(())
}

/// Forgets the person's unused sign-in links, sign-ins waiting for a code and sign-ins held
/// for a free device slot: after a new password, nothing started before it may finish.
pub(crate) fn forget_pending_for_user(conn: &mut DbConnection, user_id: &str) -> Result<(), StoreError> {
    diesel::delete(
        sign_in_links::table
            .filter(sign_in_links::user_id.eq(user_id))
            .filter(sign_in_links::used_at.is_null()),
    )
    .execute(conn)?;
    diesel::delete(login_challenges::table.filter(login_challenges::user_id.eq(user_id))).execute(conn)?;
    crate::foundation::store::held_sign_ins::forget_for_user(conn, user_id)
}
