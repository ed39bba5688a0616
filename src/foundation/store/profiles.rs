//! Profiles under an account ("Who's watching?").

use diesel::prelude::*;

use crate::foundation::store::schema::{profiles, users};
use crate::foundation::store::{DbConnection, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = profiles)]
pub struct Profile {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The avatar's background, `#rrggbb`, behind the name's initial.
    pub color: String,
    /// `all`, `7`, `13`, `16` or `18`: the highest age rating the profile may watch.
    pub maturity: String,
    pub kids: bool,
    /// argon2id of the PIN; `None`: no PIN.
    pub pin_hash: Option<String>,
    pub created_at: i64,
}

/// Holds every other change to the person's profiles until this transaction ends: the
/// person's row is written first (locked on PostgreSQL; SQLite has one writer at a time).
pub(crate) fn lock_owner(conn: &mut DbConnection, user_id: &str) -> Result<bool, StoreError> {
    Ok(diesel::update(users::table.find(user_id))
        .set(users::id.eq(users::id))
        .execute(conn)?
        > 0)
}

/// The person's profiles, oldest first.
pub fn of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Profile>, StoreError> {
    Ok(profiles::table
        .filter(profiles::user_id.eq(user_id))
        .order((profiles::created_at.asc(), profiles::id.asc()))
        .select(Profile::as_select())
        .load(conn)?)
}

pub(crate) fn find(conn: &mut DbConnection, user_id: &str, id: &str) -> Result<Option<Profile>, StoreError> {
    Ok(profiles::table
        .find(id)
        .filter(profiles::user_id.eq(user_id))
        .select(Profile::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn insert(conn: &mut DbConnection, profile: &Profile) -> Result<(), StoreError> {
    diesel::insert_into(profiles::table)
        .values(profile)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn update(conn: &mut DbConnection, profile: &Profile) -> Result<(), StoreError> {
    diesel::update(profiles::table.find(&profile.id))
        .set((
            profiles::name.eq(&profile.name),
            profiles::maturity.eq(&profile.maturity),
            profiles::kids.eq(profile.kids),
            profiles::pin_hash.eq(&profile.pin_hash),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn delete(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(profiles::table.find(id)).execute(conn)?;
    Ok(())
}
