//! Queries of administration (the dashboard and the command line): finding people, a
//! product's grants, turning an account off and on, making an administrator.

use diesel::prelude::*;

use crate::foundation::store::entitlements::Grant;
use crate::foundation::store::schema::{product_grants, users};
use crate::foundation::store::users::User;
use crate::foundation::store::{DbConnection, StoreError};

/// People whose email contains `text`, in email order after `after` (keyset pagination: no
/// OFFSET to walk through), at most `limit`.
pub(crate) fn search_people(
    conn: &mut DbConnection,
    text: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    let escaped: String = text
        .chars()
        .flat_map(|character| match character {
            '%' | '_' | '\\' => vec!['\\', character],
            other => vec![other],
        })
        .collect();
    let mut query = users::table
        .filter(users::email.like(format!("%{escaped}%")).escape('\\'))
        .order(users::email.asc())
        .limit(limit)
        .select(User::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::email.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// A product's most recent grants, with the email of the person each went to.
pub(crate) fn product_grants(
    conn: &mut DbConnection,
    slug: &str,
    limit: i64,
) -> Result<Vec<(Grant, String)>, StoreError> {
    Ok(product_grants::table
        .inner_join(users::table.on(users::id.eq(product_grants::user_id)))
        .filter(product_grants::product_slug.eq(slug))
        .order((product_grants::created_at.desc(), product_grants::id.asc()))
        .limit(limit)
        .select((Grant::as_select(), users::email))
        .load(conn)?)
}

/// Makes an account an administrator (`true`) or no longer one; false when there is no such
/// account or it already was.
pub(crate) fn set_admin(conn: &mut DbConnection, user_id: &str, admin: bool) -> Result<bool, StoreError> {
    let updated = diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::is_admin.eq(!admin)),
    )
    .set(users::is_admin.eq(admin))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Turns an account off (`Some(when)`) or back on (`None`); false when there is no such
/// account or it already was.
pub(crate) fn set_disabled(
    conn: &mut DbConnection,
    user_id: &str,
    disabled_at: Option<i64>,
) -> Result<bool, StoreError> {
    let target = users::table.filter(users::id.eq(user_id));
    let updated = match disabled_at {
        Some(when) => diesel::update(target.filter(users::disabled_at.is_null()))
            .set(users::disabled_at.eq(when))
            .execute(conn)?,
        None => diesel::update(target.filter(users::disabled_at.is_not_null()))
            .set(users::disabled_at.eq(None::<i64>))
            .execute(conn)?,
    };
    Ok(updated == 1)
}

/// Every account, in email order.
pub(crate) fn all_people(conn: &mut DbConnection) -> Result<Vec<User>, StoreError> {
    Ok(users::table
        .order(users::email.asc())
        .select(User::as_select())
        .load(conn)?)
}
